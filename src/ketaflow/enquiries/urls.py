"""The front desk's leads, under /leads/."""

from django.urls import path

from . import views

app_name = "enquiries"
urlpatterns = [
    path("", views.lead_list, name="list"),
    path("<uuid:lead_id>/", views.lead_detail, name="detail"),
    path("<uuid:lead_id>/register/", views.lead_register, name="register"),
]
