"""Create the demo logins (idempotent): one Administrator and one Supervisor."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from console.roles import ADMINISTRATOR, SUPERVISOR, role_assign, roles_sync

DEMO_LOGINS = (
    ("admin", "ccbridge-admin", ADMINISTRATOR, "Ada", "Admin"),
    ("supervisor", "ccbridge-supervisor", SUPERVISOR, "Sam", "Supervisor"),
)


class Command(BaseCommand):
    help = "Create the demo Administrator and Supervisor logins (safe to run again)."

    def handle(self, *args, **options) -> None:
        roles_sync()
        user_model = get_user_model()
        for username, password, role, first, last in DEMO_LOGINS:
            user, created = user_model.objects.get_or_create(
                username=username, defaults={"first_name": first, "last_name": last}
            )
            if created:
                user.set_password(password)
                user.save()
            role_assign(user, role)
            state = "created" if created else "kept"
            self.stdout.write(f"demo login {username} ({role}) {state}")
