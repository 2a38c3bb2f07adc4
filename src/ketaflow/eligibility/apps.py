from django.apps import AppConfig


class EligibilityConfig(AppConfig):
    name = "ketaflow.eligibility"
    label = "eligibility"
    verbose_name = "Eligibility decisions"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import recheck, tabs  # noqa: F401  (tabs registers the chart tab)

        recheck.connect()
