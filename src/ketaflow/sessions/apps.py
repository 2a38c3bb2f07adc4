from django.apps import AppConfig


class SessionsConfig(AppConfig):
    """Treatment sessions. The label differs from the module name because Django's own session
    framework already holds the label `sessions`."""

    name = "ketaflow.sessions"
    label = "treatment_sessions"
    verbose_name = "Treatment sessions"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import home_cards, tabs  # noqa: F401  (register the portal card and the chart tab)
