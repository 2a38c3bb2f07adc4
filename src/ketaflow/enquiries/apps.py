from django.apps import AppConfig


class EnquiriesConfig(AppConfig):
    name = "ketaflow.enquiries"
    label = "enquiries"
    verbose_name = "Enquiries and self-screen"
    default_auto_field = "django.db.models.BigAutoField"
