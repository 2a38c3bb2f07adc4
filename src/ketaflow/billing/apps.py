from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "ketaflow.billing"
    label = "billing"
    verbose_name = "Billing"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import tabs  # noqa: F401  (tabs registers the chart tab)
