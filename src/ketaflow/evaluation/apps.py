from django.apps import AppConfig


class EvaluationConfig(AppConfig):
    name = "ketaflow.evaluation"
    label = "evaluation"
    verbose_name = "Evaluation and eligibility"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import tabs  # noqa: F401  (registers the Evaluation chart tab)
