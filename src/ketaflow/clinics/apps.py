from django.apps import AppConfig


class ClinicsConfig(AppConfig):
    name = "ketaflow.clinics"
    label = "clinics"
    verbose_name = "Organizations and clinics"
