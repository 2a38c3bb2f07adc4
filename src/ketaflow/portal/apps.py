from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "ketaflow.portal"
    label = "portal"
    verbose_name = "Patient portal"
    default_auto_field = "django.db.models.BigAutoField"
