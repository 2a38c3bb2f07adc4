from django.apps import AppConfig


class PatientsConfig(AppConfig):
    name = "ketaflow.patients"
    label = "patients"
    verbose_name = "Patients"

    def ready(self) -> None:
        from ketaflow.patients import tabs  # noqa: F401  (registers the built-in chart tabs)
