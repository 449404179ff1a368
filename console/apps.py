from django.apps import AppConfig
from django.db.models.signals import post_migrate


class ConsoleConfig(AppConfig):
    name = "console"
    verbose_name = "Console"

    def ready(self) -> None:
        from console import checks  # noqa: F401 - registers the system checks
        from console.lockout import connect_signals
        from console.roles import sync_roles_after_migrate

        post_migrate.connect(sync_roles_after_migrate, sender=self)
        connect_signals()
