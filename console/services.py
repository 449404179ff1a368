"""Console user management: every change is audited, no password ever is."""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction

from console.roles import ADMINISTRATOR, role_assign, role_of
from integrations.audit import audit_record

User = get_user_model()


class LastAdministratorError(Exception):
    """Raised when a change would leave the console without an active administrator."""


def _active_admins():
    return User.objects.filter(is_active=True, groups__name=ADMINISTRATOR)


def _hold_administrators_lock() -> None:
    """Row-lock the Administrator group until the transaction ends.

    Every change that can take an administrator away holds this lock, so two
    administrators removing each other at once are checked one after the
    other: the second one sees the first one's committed change and is refused.
    Locking the admins' own rows would not do: a demotion changes only their
    group membership, which such a lock does not guard.
    """
    Group.objects.select_for_update().filter(name=ADMINISTRATOR).first()


@transaction.atomic
def console_user_create(
    *,
    actor,
    username: str,
    password: str,
    role: str,
    first_name: str = "",
    last_name: str = "",
    email: str = "",
    is_active: bool = True,
):
    """Create a console user in `role`; audits the creation (never the password)."""
    user = User.objects.create_user(
        username=username,
        password=password,
        first_name=first_name,
        last_name=last_name,
        email=email,
        is_active=is_active,
    )
    role_assign(user, role)
    audit_record(
        actor=actor,
        action="user.create",
        target=user,
        summary=f"Created console user {username} as {role}",
        changes={"role": role, "is_active": is_active, "password": "set"},
    )
    return user


@transaction.atomic
def console_user_update(
    *,
    actor,
    user,
    username: str,
    role: str,
    first_name: str = "",
    last_name: str = "",
    email: str = "",
    is_active: bool = True,
    password: str = "",
):
    """Update a user's details, role and optionally password.

    Raises LastAdministratorError when it would demote or deactivate the last
    active administrator, so the console can never lock everyone out.
    """
    if role != ADMINISTRATOR or not is_active:
        _hold_administrators_lock()
        # What the caller loaded may predate a change committed while we waited.
        user.refresh_from_db(fields=["is_active"])
    old_role = role_of(user)
    losing_admin = (
        old_role == ADMINISTRATOR and user.is_active and (role != ADMINISTRATOR or not is_active)
    )
    if losing_admin and not _active_admins().exclude(pk=user.pk).exists():
        raise LastAdministratorError(
            "This is the last active Administrator; make someone else an Administrator first."
        )
    changes = {}
    for field, value in (
        ("username", username),
        ("first_name", first_name),
        ("last_name", last_name),
        ("email", email),
        ("is_active", is_active),
    ):
        if getattr(user, field) != value:
            changes[field] = [getattr(user, field), value]
            setattr(user, field, value)
    if password:
        user.set_password(password)
        changes["password"] = "(changed)"
    user.save()
    if role != old_role:
        role_assign(user, role)
        changes["role"] = [old_role, role]
    if changes:
        audit_record(
            actor=actor,
            action="user.update",
            target=user,
            summary=f"Updated console user {user.username}",
            changes=changes,
        )
    return user
