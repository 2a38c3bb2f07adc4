"""The patient portal, mounted at /portal/ (and the staff invitation POST)."""

from django.urls import path

from . import views

app_name = "portal"
urlpatterns = [
    path("", views.home, name="home"),
    path("login/", views.portal_login, name="login"),
    path("logout/", views.portal_logout, name="logout"),
    path("progress/", views.progress, name="progress"),
    path("questionnaires/<slug:instrument_id>/", views.answer, name="answer"),
    path("activate/<str:token>/", views.activate, name="activate"),
    path("invite/<uuid:patient_id>/", views.invite, name="invite"),
]
