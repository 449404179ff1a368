"""Administrators manage console users and their roles; every change is audited."""

import contextlib
import threading

import pytest
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.test import Client
from django.urls import reverse

from console import services
from console.roles import ADMINISTRATOR, SUPERVISOR, role_of
from integrations.models import AuditEntry
from tests.factories import AdministratorFactory

User = get_user_model()
NEW_PASSWORD = "a-very-long-passphrase-42"


def test_admin_creates_a_supervisor_who_can_sign_in(administrator_client):
    response = administrator_client.post(
        reverse("console:user_create"),
        {
            "username": "newbie",
            "email": "n@example.com",
            "role": SUPERVISOR,
            "is_active": "on",
            "password": NEW_PASSWORD,
        },
    )
    assert response.status_code == 302
    user = User.objects.get(username="newbie")
    assert role_of(user) == SUPERVISOR
    client = Client()
    assert client.login(username="newbie", password=NEW_PASSWORD)
    assert client.get(reverse("console:dashboard")).status_code == 200


def test_creation_is_audited_without_the_password(administrator_client):
    administrator_client.post(
        reverse("console:user_create"),
        {"username": "newbie", "role": SUPERVISOR, "is_active": "on", "password": NEW_PASSWORD},
    )
    entry = AuditEntry.objects.get(action="user.create")
    assert entry.actor_name == "ada"
    assert entry.target_id == str(User.objects.get(username="newbie").pk)
    assert NEW_PASSWORD not in str(entry.changes) + entry.summary
    assert entry.changes["password"] == "(changed)"


def test_bad_input_rerenders_with_field_errors_and_saves_nothing(administrator_client):
    response = administrator_client.post(
        reverse("console:user_create"),
        {"username": "ada", "email": "not-an-email", "role": "Overlord", "password": "123"},
    )
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert set(errors) == {"username", "email", "role", "password"}
    assert "already exists" in errors["username"][0]
    assert User.objects.count() == 1
    assert not AuditEntry.objects.exists()


def test_admin_changes_a_role(administrator_client, supervisor):
    response = administrator_client.post(
        reverse("console:user_edit", args=[supervisor.pk]),
        {"username": "sam", "role": ADMINISTRATOR, "is_active": "on"},
    )
    assert response.status_code == 302
    assert role_of(supervisor) == ADMINISTRATOR
    entry = AuditEntry.objects.get(action="user.update")
    assert entry.changes["role"] == [SUPERVISOR, ADMINISTRATOR]


def test_the_last_administrator_cannot_demote_themselves(administrator_client, administrator):
    response = administrator_client.post(
        reverse("console:user_edit", args=[administrator.pk]),
        {"username": "ada", "role": SUPERVISOR, "is_active": "on"},
    )
    assert response.status_code == 200
    assert "last active Administrator" in response.context["form"].errors["role"][0]
    assert role_of(administrator) == ADMINISTRATOR


def test_a_disabled_user_can_no_longer_sign_in(administrator_client, supervisor):
    from tests.factories import TEST_PASSWORD

    administrator_client.post(
        reverse("console:user_edit", args=[supervisor.pk]), {"username": "sam", "role": SUPERVISOR}
    )
    supervisor.refresh_from_db()
    assert supervisor.is_active is False
    assert not Client().login(username="sam", password=TEST_PASSWORD)


def test_supervisor_cannot_create_users(supervisor_client):
    response = supervisor_client.post(
        reverse("console:user_create"),
        {"username": "sneaky", "role": ADMINISTRATOR, "password": NEW_PASSWORD},
    )
    assert response.status_code == 403
    assert not User.objects.filter(username="sneaky").exists()


def _edit_concurrently(edits: list[tuple[str, str, dict]]) -> list[Exception | None]:
    """Run each (actor, target, fields) edit in its own thread and database connection.

    Each edit commits only after every other edit has had its chance to run, so
    without a lock all of them would check "is another Administrator left?" against
    the same, not yet changed, state.
    """
    everyone_tried = threading.Barrier(len(edits))
    outcomes: list[Exception | None] = [None] * len(edits)

    def edit(index: int, actor_name: str, target_name: str, fields: dict) -> None:
        try:
            with transaction.atomic():
                actor = User.objects.get(username=actor_name)
                target = User.objects.get(username=target_name)
                try:
                    services.console_user_update(
                        actor=actor,
                        user=target,
                        username=target_name,
                        **{"role": ADMINISTRATOR, "is_active": True, **fields},
                    )
                except services.LastAdministratorError as exc:
                    outcomes[index] = exc
                # An edit held back by a lock never reaches the barrier while this
                # one waits: give up waiting and commit, which releases it.
                with contextlib.suppress(threading.BrokenBarrierError):
                    everyone_tried.wait(timeout=2)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=edit, args=(index, *arguments))
        for index, arguments in enumerate(edits)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return outcomes


@pytest.mark.parametrize(
    "fields",
    [{"role": SUPERVISOR}, {"is_active": False}],
    ids=["demoting", "disabling"],
)
def test_two_administrators_removing_each_other_at_once_leave_one(transactional_db, fields):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: SQLite has no row locks to race against")
    AdministratorFactory(username="ada")
    AdministratorFactory(username="bea")

    outcomes = _edit_concurrently([("ada", "bea", fields), ("bea", "ada", fields)])

    remaining = [user.username for user in User.objects.all() if _is_active_admin(user)]
    assert len(remaining) == 1
    refused = [outcome for outcome in outcomes if outcome is not None]
    assert len(refused) == 1
    assert "last active Administrator" in str(refused[0])


def _is_active_admin(user) -> bool:
    return user.is_active and role_of(user) == ADMINISTRATOR
