from django.apps import AppConfig


class FhirConfig(AppConfig):
    name = "ketaflow.fhir"
    label = "fhir"
    verbose_name = "FHIR R4"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import mapping, projection

        mapping.load_all()
        projection.connect_signals()
