from django.apps import AppConfig


class PlansConfig(AppConfig):
    name = "ketaflow.plans"
    label = "plans"
    verbose_name = "Treatment plans"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import tabs  # noqa: F401  (tabs registers the chart tab)
