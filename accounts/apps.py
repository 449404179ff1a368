from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Directory and agents"

    def ready(self) -> None:
        # Connects the receiver that disables agents when the account is deleted.
        from accounts import services  # noqa: F401
