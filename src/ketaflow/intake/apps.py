from django.apps import AppConfig


class IntakeConfig(AppConfig):
    name = "ketaflow.intake"
    label = "intake"
    verbose_name = "Patient intake"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import cards, chart

        chart.register()  # the "Intake" chart tab
        cards.register()  # the portal's "Complete your intake" card
