from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "ketaflow.accounts"
    label = "accounts"
    verbose_name = "Staff and access"

    def ready(self) -> None:
        from ketaflow.accounts import signals  # noqa: F401
