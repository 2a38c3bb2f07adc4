from django.urls import path

from . import views

app_name = "eligibility"
urlpatterns = [
    path("settings/", views.eligibility_settings, name="settings"),
    path("patients/<uuid:patient_id>/<slug:route>/sign/", views.sign, name="sign"),
]
