"""Brute-force protection of the sign-in form (django-axes).

Five wrong passwords for one username from one address lock that pair out for
the cool-off, even with the right password; other users and other addresses
sign in as usual; an Administrator can lift the lock early.
"""

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse

from integrations.models import AuditEntry
from tests.factories import TEST_PASSWORD, SupervisorFactory

LIMIT = 5


@pytest.fixture(autouse=True)
def lockout_settings(settings):
    settings.AXES_FAILURE_LIMIT = LIMIT
    settings.AXES_COOLOFF_TIME = timedelta(minutes=15)
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    return settings


def sign_in(client: Client, username: str, password: str):
    return client.post(reverse("console:login"), {"username": username, "password": password})


def fail_until_locked(client: Client, username: str) -> None:
    for _attempt in range(LIMIT):
        sign_in(client, username, "wrong-password")


def test_five_wrong_passwords_lock_out_even_the_right_one(supervisor):
    client = Client()
    for attempt in range(LIMIT - 1):
        response = sign_in(client, "sam", f"wrong-{attempt}")
        assert response.status_code == 200
        assert b"Please enter a correct username and password" in response.content

    fifth = sign_in(client, "sam", "wrong-again")
    assert fifth.status_code == 429

    response = sign_in(client, "sam", TEST_PASSWORD)
    assert response.status_code == 429
    page = response.content.decode()
    assert "Sign-in paused" in page
    assert "Too many failed sign-ins" in page
    assert "15 minutes" in page
    assert int(response["Retry-After"]) > 800
    assert client.get(reverse("console:dashboard")).status_code == 302  # not signed in


def test_the_lockout_page_is_a_console_page_with_a_strict_policy(supervisor):
    client = Client()
    fail_until_locked(client, "sam")
    response = sign_in(client, "sam", TEST_PASSWORD)
    assert "Content-Security-Policy" in response
    assert 'href="/static/css/console.css"' in response.content.decode()
    assert 'href="/login/"' in response.content.decode()


def test_other_users_and_other_addresses_are_not_affected(supervisor, administrator):
    attacker = Client(REMOTE_ADDR="203.0.113.9")
    fail_until_locked(attacker, "sam")
    assert sign_in(attacker, "sam", TEST_PASSWORD).status_code == 429

    same_address_other_user = sign_in(attacker, "ada", TEST_PASSWORD)
    assert same_address_other_user.status_code == 302

    sam_at_his_desk = Client(REMOTE_ADDR="198.51.100.7")
    assert sign_in(sam_at_his_desk, "sam", TEST_PASSWORD).status_code == 302
    assert sam_at_his_desk.get(reverse("console:dashboard")).status_code == 200


def test_after_the_cool_off_the_user_may_sign_in_again(supervisor, settings, clock):
    client = Client()
    fail_until_locked(client, "sam")
    assert sign_in(client, "sam", TEST_PASSWORD).status_code == 429

    settings.AXES_COOLOFF_TIME = timedelta(seconds=1)
    clock.advance(1.2)

    assert sign_in(client, "sam", TEST_PASSWORD).status_code == 302
    assert client.get(reverse("console:dashboard")).status_code == 200


def test_a_successful_sign_in_starts_the_count_again(supervisor):
    client = Client()
    for _attempt in range(LIMIT - 1):
        sign_in(client, "sam", "wrong")
    assert sign_in(client, "sam", TEST_PASSWORD).status_code == 302
    client.post(reverse("console:logout"))
    for _attempt in range(LIMIT - 1):
        assert sign_in(client, "sam", "wrong").status_code == 200
    assert sign_in(client, "sam", TEST_PASSWORD).status_code == 302


def test_the_lockout_is_audited_once_without_the_passwords(supervisor):
    client = Client()
    fail_until_locked(client, "sam")
    for _retry in range(3):
        sign_in(client, "sam", TEST_PASSWORD)

    entry = AuditEntry.objects.get(action="login.lockout")
    assert entry.changes == {"username": "sam", "ip_address": "127.0.0.1"}
    assert "sam" in entry.summary
    assert "5 failed attempts" in entry.summary
    assert TEST_PASSWORD not in str(entry.changes) + entry.summary


def test_an_administrator_unlocks_a_user_from_the_users_page(supervisor, administrator_client):
    locked_out = Client()
    fail_until_locked(locked_out, "sam")
    assert sign_in(locked_out, "sam", TEST_PASSWORD).status_code == 429

    page = administrator_client.get(reverse("console:user_list")).content.decode()
    assert "Sign-in locked until" in page
    assert "Unlock sam" in page

    response = administrator_client.post(reverse("console:user_unlock", args=[supervisor.pk]))
    assert response.status_code == 302
    users_page = administrator_client.get(reverse("console:user_list")).content.decode()
    assert "Unlock sam" not in users_page
    assert AuditEntry.objects.filter(action="login.unlock", actor_name="ada").exists()
    assert sign_in(locked_out, "sam", TEST_PASSWORD).status_code == 302


def test_a_supervisor_cannot_unlock_anyone(supervisor, supervisor_client):
    other = SupervisorFactory(username="olga")
    fail_until_locked(Client(), "olga")
    response = supervisor_client.post(reverse("console:user_unlock", args=[other.pk]))
    assert response.status_code == 403
    assert sign_in(Client(), "olga", TEST_PASSWORD).status_code == 429


def test_the_axes_reset_command_unlocks_too(supervisor):
    from django.core.management import call_command

    client = Client()
    fail_until_locked(client, "sam")
    call_command("axes_reset_username", "sam")
    assert sign_in(client, "sam", TEST_PASSWORD).status_code == 302
