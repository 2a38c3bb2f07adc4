from django.apps import AppConfig


class MeasurementConfig(AppConfig):
    name = "ketaflow.measurement"
    label = "measurement"
    verbose_name = "Measurement-based care"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import tabs  # noqa: F401  (registers the chart tab)
