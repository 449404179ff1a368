"""Signed deliveries to the ACD webhook: signing, retries with backoff, dead letters,
replay, and the settings pages."""

import hashlib
import hmac
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from integrations.models import AuditEntry
from presence.sync_models import AcdDelivery, AcdEndpoint
from presence.to_acd import delivery as acd_delivery
from presence.to_acd import tasks as to_acd_tasks
from presence.to_acd.delivery import BACKOFF, MAX_ATTEMPTS
from tests.plugins.celery_worker import wait_for
from tests.presence.support_webhook import (
    ACD_SECRET,
    acd_endpoint_set,
    acd_receiver_fixture,  # noqa: F401
    mapped_agent,
    signature_valid,
)
from tests.support.secrets import stored_value
from tests.support.task_queue import own_queue

Status = AcdDelivery.Status


@pytest.fixture
def agent(unit):
    return mapped_agent(unit=unit)


@pytest.fixture
def endpoint(acd_receiver, db):
    return acd_endpoint_set(acd_receiver.url)


def queue(agent, state="unavailable", reason="meeting") -> AcdDelivery:
    return acd_delivery.delivery_queue(
        agent=agent,
        acd_state=state,
        reason_code=reason,
        availability="Busy",
        activity="InAMeeting",
        occurred_at=timezone.now(),
    )


def make_due(delivery: AcdDelivery) -> None:
    AcdDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())


def reload(delivery: AcdDelivery) -> AcdDelivery:
    delivery.refresh_from_db()
    return delivery


# --- signing ------------------------------------------------------------------------------


def test_the_receiver_can_verify_the_signature(agent, endpoint, acd_receiver):
    delivery = queue(agent)
    assert acd_delivery.delivery_attempt(delivery.pk) == Status.DELIVERED
    [received] = acd_receiver.received
    assert received.headers["Content-Type"] == "application/json"
    assert signature_valid(received)
    assert not signature_valid(received, secret="another-secret-0123456789")
    assert received.json == {
        "event": "teams.presence",
        "agent": {"external_id": agent.external_id},
        "acd_state": "unavailable",
        "reason_code": "meeting",
        "teams": {"availability": "Busy", "activity": "InAMeeting"},
        "occurred_at": delivery.payload["occurred_at"],
        "id": delivery.pk,
    }
    delivery = reload(delivery)
    assert (delivery.status, delivery.attempts) == (Status.DELIVERED, 1)
    assert delivery.delivered_at is not None


def test_the_signature_covers_timestamp_and_raw_body():
    expected = "sha256=" + hmac.new(b"k", b"1700000000.{}", hashlib.sha256).hexdigest()
    assert acd_delivery.signature("k", "1700000000", b"{}") == expected


def test_a_tampered_body_fails_verification(agent, endpoint, acd_receiver):
    acd_delivery.delivery_attempt(queue(agent).pk)
    [received] = acd_receiver.received
    received.body = received.body.replace(b"unavailable", b"available__")
    assert not signature_valid(received)


# --- retries, backoff, dead letters -------------------------------------------------------


def test_failures_are_retried_with_growing_waits_then_dead_lettered(agent, endpoint, acd_receiver):
    acd_receiver.default = 500
    delivery = queue(agent)
    waits = []
    for attempt in range(1, MAX_ATTEMPTS + 1):
        before = timezone.now()
        status = acd_delivery.delivery_attempt(delivery.pk)
        delivery = reload(delivery)
        assert delivery.attempts == attempt
        assert delivery.last_error.startswith(f"Attempt {attempt}: HTTP 500")
        if attempt < MAX_ATTEMPTS:
            assert status == Status.PENDING
            waits.append(delivery.next_attempt_at - before)
            # Not due yet: nobody may send it again early.
            assert acd_delivery.delivery_attempt(delivery.pk) is None
            make_due(delivery)
        else:
            assert status == Status.DEAD
    assert [round(w.total_seconds()) for w in waits] == [b.total_seconds() for b in BACKOFF]
    assert waits == sorted(waits)
    assert delivery.status == Status.DEAD and delivery.next_attempt_at is None
    assert len(acd_receiver.received) == MAX_ATTEMPTS
    assert acd_delivery.delivery_attempt(delivery.pk) is None


def test_a_delivery_recovers_when_the_receiver_does(agent, endpoint, acd_receiver):
    acd_receiver.statuses = [503]
    delivery = queue(agent)
    assert acd_delivery.delivery_attempt(delivery.pk) == Status.PENDING
    make_due(delivery)
    assert acd_delivery.delivery_attempt(delivery.pk) == Status.DELIVERED
    first, second = acd_receiver.received
    assert first.json["id"] == second.json["id"] == delivery.pk  # the ACD can de-duplicate


def test_an_unreachable_receiver_is_a_failure_not_a_crash(agent, db):
    acd_endpoint_set("http://127.0.0.1:9/nothing-listens")
    delivery = queue(agent)
    assert acd_delivery.delivery_attempt(delivery.pk) == Status.PENDING
    assert "could not connect" in reload(delivery).last_error


def test_a_slow_receiver_times_out(agent, endpoint, acd_receiver, settings):
    settings.ACD_WEBHOOK_TIMEOUT_SECONDS = 0.3
    acd_receiver.delay = 1.0
    delivery = queue(agent)
    assert acd_delivery.delivery_attempt(delivery.pk) == Status.PENDING
    assert "timed out" in reload(delivery).last_error


def test_a_redirect_is_not_followed(agent, endpoint, acd_receiver):
    acd_receiver.default = 302
    delivery = queue(agent)
    assert acd_delivery.delivery_attempt(delivery.pk) == Status.PENDING
    assert "HTTP 302" in reload(delivery).last_error


def test_a_webhook_switched_off_after_queueing_fails_the_attempt(agent, endpoint, acd_receiver):
    delivery = queue(agent)
    AcdEndpoint.objects.update(enabled=False)
    assert acd_delivery.delivery_attempt(delivery.pk) == Status.PENDING
    assert "No enabled ACD webhook" in reload(delivery).last_error
    assert acd_receiver.received == []


# --- claims -----------------------------------------------------------------------------------


def test_two_workers_never_claim_the_same_delivery(agent, endpoint):
    delivery = queue(agent)
    assert acd_delivery.delivery_claim(delivery.pk) == 1
    assert acd_delivery.delivery_claim(delivery.pk) is None


def test_a_lost_claim_sends_nothing(agent, endpoint, acd_receiver):
    delivery = queue(agent)
    first = acd_delivery.delivery_claim(delivery.pk)
    # The lease ran out and another worker claimed it again.
    make_due(delivery)
    second = acd_delivery.delivery_claim(delivery.pk)
    assert acd_delivery.delivery_send(delivery.pk, first) is None
    assert acd_receiver.received == []
    assert acd_delivery.delivery_send(delivery.pk, second) == Status.DELIVERED


def test_the_dispatcher_claims_due_deliveries_once(agent, endpoint):
    due, later = queue(agent), queue(agent, state="available", reason=None)
    AcdDelivery.objects.filter(pk=later.pk).update(
        next_attempt_at=timezone.now() + timedelta(minutes=5)
    )
    handed = []
    assert acd_delivery.deliveries_dispatch_due(lambda pk, n: handed.append((pk, n))) == 1
    assert handed == [(due.pk, 1)]
    # Claimed: a second beat run (the queue is slow) does not hand it out again.
    assert acd_delivery.deliveries_dispatch_due(lambda pk, n: handed.append((pk, n))) == 0
    assert acd_delivery.delivery_attempt(due.pk, 1) == Status.DELIVERED


# --- replay -----------------------------------------------------------------------------------


def dead(agent) -> AcdDelivery:
    delivery = queue(agent)
    AcdDelivery.objects.filter(pk=delivery.pk).update(
        status=Status.DEAD,
        attempts=MAX_ATTEMPTS,
        last_error="Attempt 6: HTTP 500",
        next_attempt_at=None,
    )
    return reload(delivery)


def test_replay_gives_a_dead_letter_fresh_attempts(
    agent, endpoint, acd_receiver, administrator, monkeypatch, django_capture_on_commit_callbacks
):
    one, other = dead(agent), dead(agent)
    with own_queue(monkeypatch, to_acd_tasks.acd_deliver) as queue:
        with django_capture_on_commit_callbacks(execute=True):
            assert acd_delivery.deliveries_replay(actor=administrator, delivery_ids=[one.pk]) == 1
        sent = [args for _task, args, _kwargs in queue.messages()]
    assert sent == [[one.pk]]
    one, other = reload(one), reload(other)
    assert (one.status, one.attempts, one.last_error) == (Status.PENDING, 0, "")
    assert other.status == Status.DEAD
    assert acd_delivery.delivery_attempt(one.pk) == Status.DELIVERED
    assert acd_receiver.received[0].json["id"] == one.pk
    assert AuditEntry.objects.filter(action="acd_delivery.replay").exists()


def test_replay_all_takes_every_dead_letter_and_nothing_else(agent, endpoint, administrator):
    dead(agent), dead(agent)
    delivered = queue(agent)
    acd_delivery.delivery_attempt(delivered.pk)
    assert acd_delivery.deliveries_replay(actor=administrator) == 2
    assert AcdDelivery.objects.filter(status=Status.PENDING).count() == 2
    assert reload(delivered).status == Status.DELIVERED


# --- the settings page -------------------------------------------------------------------------


def test_the_settings_page_never_shows_the_secret(administrator_client, endpoint):
    response = administrator_client.get(reverse("sync:acd_settings"))
    assert response.status_code == 200
    assert ACD_SECRET not in response.content.decode()
    assert stored_value(endpoint, "secret") not in response.content.decode()
    assert "Signing secret: <strong>set</strong>" in response.content.decode()


def test_an_administrator_saves_the_endpoint_and_a_blank_secret_keeps_it(
    administrator_client, endpoint
):
    response = administrator_client.post(
        reverse("sync:acd_settings"),
        {"url": "https://acd.example/new", "secret": "", "enabled": "on"},
    )
    assert response.status_code == 302
    saved = AcdEndpoint.objects.get()
    assert saved.url == "https://acd.example/new"
    assert saved.secret == ACD_SECRET
    administrator_client.post(
        reverse("sync:acd_settings"),
        {"url": "https://acd.example/new", "secret": "a-brand-new-secret-value"},
    )
    saved = AcdEndpoint.objects.get()
    assert saved.secret == "a-brand-new-secret-value"
    assert saved.enabled is False
    entry = AuditEntry.objects.filter(action="acd_endpoint.update").order_by("-pk").first()
    assert "a-brand-new-secret-value" not in str(entry.changes)
    assert entry.changes["secret"] == "(changed)"


def test_a_first_secret_is_required_and_a_bad_url_refused(administrator_client, db):
    response = administrator_client.post(
        reverse("sync:acd_settings"), {"url": "not a url", "secret": ""}
    )
    assert response.status_code == 200
    assert response.context["form"].errors.keys() == {"url", "secret"}
    assert not AcdEndpoint.objects.exclude(url="").exists()


def test_send_test_event_posts_a_signed_test(administrator_client, endpoint, acd_receiver):
    response = administrator_client.post(reverse("sync:acd_test"), headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert "Test event: Delivered." in response.content.decode()
    assert "<html" not in response.content.decode()  # the partial only
    [received] = acd_receiver.received
    assert signature_valid(received)
    assert received.json["event"] == "ccbridge.test"


def test_send_test_event_reports_the_receivers_answer(administrator_client, endpoint, acd_receiver):
    acd_receiver.default = 401
    response = administrator_client.post(reverse("sync:acd_test"))
    assert "HTTP 401" in response.content.decode()


def test_send_test_event_without_an_endpoint_says_what_is_missing(administrator_client, db):
    response = administrator_client.post(reverse("sync:acd_test"))
    assert "Enter the ACD webhook URL and secret first." in response.content.decode()


@pytest.mark.parametrize(
    ("method", "name", "args"),
    [
        ("get", "sync:acd_settings", ()),
        ("post", "sync:acd_settings", ()),
        ("post", "sync:acd_test", ()),
        ("get", "sync:acd_dead_letters", ()),
        ("post", "sync:acd_replay_all", ()),
        ("post", "sync:acd_replay", (1,)),
    ],
)
def test_a_supervisor_cannot_see_or_edit_acd_settings(
    supervisor_client, endpoint, method, name, args
):
    before = AcdEndpoint.objects.get().url
    data = {"url": "https://evil.example/", "secret": "x" * 20} if method == "post" else None
    response = getattr(supervisor_client, method)(reverse(name, args=args), data)
    assert response.status_code == 403
    assert AcdEndpoint.objects.get().url == before


def test_the_dead_letter_page_lists_and_replays(administrator_client, agent, endpoint):
    letter = dead(agent)
    page = administrator_client.get(reverse("sync:acd_dead_letters"))
    assert page.status_code == 200
    assert f'data-delivery="{letter.pk}"' in page.content.decode()
    assert "Attempt 6: HTTP 500" in page.content.decode()
    response = administrator_client.post(reverse("sync:acd_replay", args=[letter.pk]))
    assert response.status_code == 302
    assert reload(letter).status == Status.PENDING
    response = administrator_client.post(reverse("sync:acd_replay", args=[letter.pk]), follow=True)
    assert "no longer a dead letter" in response.content.decode()


def test_replay_all_from_the_page(administrator_client, agent, endpoint):
    dead(agent), dead(agent)
    response = administrator_client.post(reverse("sync:acd_replay_all"), follow=True)
    assert "2 dead deliveries are being sent again." in response.content.decode()
    assert not AcdDelivery.objects.filter(status=Status.DEAD).exists()


# --- with a real worker --------------------------------------------------------------------------


@pytest.mark.worker
def test_the_worker_delivers_and_the_beat_task_retries(celery_worker, unit, acd_receiver):
    acd_endpoint_set(acd_receiver.url)
    acd_receiver.statuses = [500]
    agent = mapped_agent(unit=unit)
    delivery = queue(agent)  # autocommit: the immediate attempt is sent at once

    wait_for(lambda: reload(delivery).attempts == 1, what="the first attempt")
    assert reload(delivery).status == Status.PENDING
    make_due(delivery)
    to_acd_tasks.acd_deliveries_retry.delay()

    wait_for(lambda: reload(delivery).status == Status.DELIVERED, what="the retry")
    assert len(acd_receiver.received) == 2
    assert all(signature_valid(r) for r in acd_receiver.received)
