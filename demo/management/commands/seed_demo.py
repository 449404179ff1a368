"""Create the demo logins (idempotent): one Administrator and one Supervisor."""

from django.core.management.base import BaseCommand

from demo.logins import demo_logins_ensure


class Command(BaseCommand):
    help = "Create the demo Administrator and Supervisor logins (safe to run again)."

    def handle(self, *args, **options) -> None:
        for username, role, created in demo_logins_ensure():
            state = "created" if created else "kept"
            self.stdout.write(f"demo login {username} ({role}) {state}")
