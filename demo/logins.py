"""The demo's console logins: one Administrator and one Supervisor."""

from django.contrib.auth import get_user_model

from console.roles import ADMINISTRATOR, SUPERVISOR, role_assign, roles_sync

# username, password, role, first name, last name
DEMO_LOGINS = (
    ("admin", "ccbridge-admin", ADMINISTRATOR, "Ada", "Admin"),
    ("supervisor", "ccbridge-supervisor", SUPERVISOR, "Sam", "Supervisor"),
)


def demo_logins_ensure() -> list[tuple[str, str, bool]]:
    """Create the demo logins that are missing and give each its role.

    An existing login keeps its password. Returns (username, role, created) for each.
    """
    roles_sync()
    user_model = get_user_model()
    result = []
    for username, password, role, first, last in DEMO_LOGINS:
        user, created = user_model.objects.get_or_create(
            username=username, defaults={"first_name": first, "last_name": last}
        )
        if created:
            user.set_password(password)
            user.save()
        role_assign(user, role)
        result.append((username, role, created))
    return result
