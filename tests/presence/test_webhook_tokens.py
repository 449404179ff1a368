"""Validation tokens the webhook already checked: remembered until they expire, never
in place of checking a token it has not seen.

Graph repeats one token on every POST for about an hour (docs/graph.md, "Change
notifications"), so a token that passed is not checked again while it is valid.
"""

import json
import time
import uuid

import pytest

from integrations.models import IntegrationAccount
from presence.webhook import views as webhook
from presence.webhook.notifications import TOKEN_LEEWAY_SECONDS, KeysUnavailable, VerifiedTokens
from tests.presence.support_webhook import (
    TokenSigner,
    counter,
    graphish_fixture,  # noqa: F401
    token_signer_fixture,  # noqa: F401
)
from tests.support.task_queue import task_queue_fixture  # noqa: F401

USER = "6e0c2a4b-1f3d-4c5e-8a9b-0c1d2e3f4a5b"
NOTIFICATIONS = "/graph/notifications"


@pytest.fixture(autouse=True)
def fresh_memory():
    webhook.verified_tokens.clear()
    yield
    webhook.verified_tokens.clear()


@pytest.fixture
def queued(task_queue):
    """The items the webhook handed to the worker, read back from the real broker."""
    return task_queue


def post(client, body):
    return client.post(NOTIFICATIONS, data=json.dumps(body), content_type="application/json")


def keys_unreachable(monkeypatch):
    def down(url):
        raise KeysUnavailable("identity platform down")

    webhook.signing_keys.clear()
    monkeypatch.setattr(webhook.signing_keys, "fetch", down)


def test_a_token_that_passed_is_not_checked_again(client, graphish, queued, monkeypatch):
    token = graphish.signer.token()
    assert post(client, graphish.body(graphish.item(USER), tokens=[token])).status_code == 202
    keys_unreachable(monkeypatch)

    # Without the signing keys nothing new can be checked, but this token already was.
    body = graphish.body(graphish.item(USER, "Away", "Away", sequence=2), tokens=[token])
    assert post(client, body).status_code == 202
    assert [item["availability"] for item in queued.notification_items()] == ["Busy", "Away"]


def test_a_new_token_is_still_checked(client, graphish, queued, monkeypatch):
    assert post(client, graphish.body(graphish.item(USER))).status_code == 202
    keys_unreachable(monkeypatch)

    fresh = graphish.signer.token(jti=uuid.uuid4().hex)
    response = post(client, graphish.body(graphish.item(USER, sequence=2), tokens=[fresh]))

    assert response.status_code == 503
    assert len(queued.notification_items()) == 1


def test_a_forged_token_beside_a_remembered_one_refuses_the_post(client, graphish, queued):
    genuine = graphish.signer.token()
    assert post(client, graphish.body(graphish.item(USER), tokens=[genuine])).status_code == 202

    forged = TokenSigner(kid=graphish.signer.kid).token()
    body = graphish.body(graphish.item(USER, sequence=2), tokens=[genuine, forged])

    assert post(client, body).status_code == 400
    assert counter("rejected_bad_validation_token") == 1
    assert len(queued.notification_items()) == 1


def test_a_remembered_token_is_refused_once_it_expires(client, graphish, queued):
    # Expired, but 3 s short of the leeway Microsoft's validators allow: still good
    # (3 s, so the first POST, which fetches the signing keys, lands inside it).
    expires = int(time.time()) - TOKEN_LEEWAY_SECONDS + 3
    token = graphish.signer.token(exp=expires)
    assert post(client, graphish.body(graphish.item(USER), tokens=[token])).status_code == 202

    time.sleep(max(0.0, expires + TOKEN_LEEWAY_SECONDS - time.time()) + 0.1)
    response = post(client, graphish.body(graphish.item(USER, sequence=2), tokens=[token]))

    assert response.status_code == 400
    assert b"expired" in response.content
    assert counter("rejected_bad_validation_token") == 1
    assert len(queued.notification_items()) == 1


def test_a_token_remembered_for_one_app_is_checked_again_for_another(client, graphish, queued):
    token = graphish.signer.token()
    assert post(client, graphish.body(graphish.item(USER), tokens=[token])).status_code == 202

    account = IntegrationAccount.objects.get()
    account.client_id = str(uuid.uuid4())
    account.save()
    response = post(client, graphish.body(graphish.item(USER, sequence=2), tokens=[token]))

    assert response.status_code == 400
    assert b"another app" in response.content


# --- the memory itself -------------------------------------------------------------------

CONTEXT = ("https://login.example/keys", "client", "tenant")


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def test_a_token_is_known_until_its_expiry_plus_the_leeway():
    clock = Clock()
    verified = VerifiedTokens(clock=clock)
    verified.add("token", CONTEXT, expires_at=clock.now + 60)

    clock.now += 60 + TOKEN_LEEWAY_SECONDS - 1
    assert verified.known("token", CONTEXT)
    clock.now += 1
    assert not verified.known("token", CONTEXT)


def test_a_token_is_known_only_for_what_it_was_checked_against():
    verified = VerifiedTokens()
    verified.add("token", CONTEXT, expires_at=time.time() + 3600)

    assert verified.known("token", CONTEXT)
    assert not verified.known("token", (CONTEXT[0], "another client", CONTEXT[2]))
    assert not verified.known("token", (CONTEXT[0], CONTEXT[1], "another tenant"))
    assert not verified.known("token2", CONTEXT)


def test_an_already_expired_token_is_not_remembered():
    clock = Clock()
    verified = VerifiedTokens(clock=clock)
    verified.add("token", CONTEXT, expires_at=clock.now - TOKEN_LEEWAY_SECONDS)
    assert not verified.known("token", CONTEXT)


def test_the_memory_is_bounded():
    clock = Clock()
    verified = VerifiedTokens(max_entries=3, clock=clock)
    for number in range(10):
        verified.add(f"token{number}", CONTEXT, expires_at=clock.now + 60)
    assert verified.known("token9", CONTEXT)
    assert sum(verified.known(f"token{number}", CONTEXT) for number in range(10)) <= 3
