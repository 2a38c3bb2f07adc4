from django.apps import AppConfig


class ConsentConfig(AppConfig):
    name = "ketaflow.consent"
    label = "consent"
    verbose_name = "Informed consent"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import cards, tabs  # noqa: F401  (register the chart tab and the portal card)
