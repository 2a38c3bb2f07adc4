from django.apps import AppConfig


class LedgerConfig(AppConfig):
    name = "ketaflow.ledger"
    label = "ledger"
    verbose_name = "Controlled-substance ledger"
    default_auto_field = "django.db.models.BigAutoField"
