from django.apps import AppConfig


class SchedulingConfig(AppConfig):
    name = "ketaflow.scheduling"
    label = "scheduling"
    verbose_name = "Scheduling"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import tabs  # noqa: F401  (tabs registers the chart tab)
