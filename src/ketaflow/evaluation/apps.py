from django.apps import AppConfig


class EvaluationConfig(AppConfig):
    name = "ketaflow.evaluation"
    label = "evaluation"
    verbose_name = "Evaluation and eligibility"
    default_auto_field = "django.db.models.BigAutoField"
