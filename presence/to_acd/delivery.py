"""Signed deliveries of Teams-side presence changes to the contact center's webhook.

Each change becomes an AcdDelivery row and one POST, signed with the shared
secret: ``X-Ccbridge-Timestamp`` (unix seconds) and ``X-Ccbridge-Signature:
sha256=<hex HMAC-SHA256(secret, f"{timestamp}.{raw body}")>``. A failed POST is
retried with growing waits (BACKOFF); after MAX_ATTEMPTS it becomes a dead
letter that an administrator can replay.

Sending is claimed first with a conditional UPDATE (pending, due → leased,
attempts + 1), so two workers never send the same delivery at once; the
claim's attempt number travels with the task and every later write checks it.

This is not Microsoft Graph, so it talks HTTP itself (requests) rather than
through graph/.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

import requests
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from accounts.models import Agent
from config.queues import BULK
from integrations.audit import audit_record
from integrations.jobs import task_enqueue
from presence.sync_models import AcdDelivery, AcdEndpoint

logger = logging.getLogger(__name__)

EVENT = "teams.presence"
TEST_EVENT = "ccbridge.test"
TIMESTAMP_HEADER = "X-Ccbridge-Timestamp"
SIGNATURE_HEADER = "X-Ccbridge-Signature"
# Waits after the 1st, 2nd, … failed attempt; the attempt after the last wait is the final one.
BACKOFF = (
    timedelta(seconds=5),
    timedelta(seconds=30),
    timedelta(minutes=2),
    timedelta(minutes=10),
    timedelta(minutes=30),
)
MAX_ATTEMPTS = len(BACKOFF) + 1
# How long a claimed delivery stays invisible to other workers (longer than a POST can take).
LEASE = timedelta(seconds=60)
DISPATCH_BATCH = 500
USER_AGENT = "ccbridge-acd-webhook/1"


class EndpointNotConfigured(Exception):
    """There is no enabled ACD webhook with a URL and a secret."""


@dataclass(frozen=True)
class SendResult:
    """What one POST to the ACD webhook came to."""

    ok: bool
    status: int | None
    error: str


# --- the endpoint -------------------------------------------------------------------


def endpoint_get() -> AcdEndpoint:
    """The one ACD endpoint row (created empty on first use)."""
    endpoint = AcdEndpoint.objects.first()
    if endpoint is not None:
        return endpoint
    try:
        with transaction.atomic():
            return AcdEndpoint.objects.create()
    except IntegrityError:
        return AcdEndpoint.objects.get()


def endpoint_ready(endpoint: AcdEndpoint) -> bool:
    return bool(endpoint.enabled and endpoint.url and endpoint.secret)


def endpoint_save(*, actor, url: str, enabled: bool, secret: str = "") -> AcdEndpoint:
    """Save the ACD webhook. A blank ``secret`` keeps the stored one (write-only field).

    Audited without the secret's value.
    """
    endpoint = endpoint_get()
    changes: dict[str, object] = {}
    if endpoint.url != url:
        changes["url"] = url
    if endpoint.enabled != enabled:
        changes["enabled"] = enabled
    endpoint.url, endpoint.enabled = url, enabled
    if secret:
        endpoint.secret = secret
        changes["secret"] = "(changed)"
    endpoint.save()
    audit_record(
        actor=actor,
        action="acd_endpoint.update",
        target=endpoint,
        summary=f"Saved the ACD webhook ({url or 'no URL'}, {'on' if enabled else 'off'})",
        changes=changes,
    )
    return endpoint


# --- signing and sending ------------------------------------------------------------


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=<hex>`` over ``f"{timestamp}.{body}"``, as the receiver recomputes it."""
    message = timestamp.encode() + b"." + body
    return "sha256=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def _session() -> requests.Session:
    session = requests.Session()
    # REQUESTS_CA_BUNDLE and proxy variables in the environment must not redirect or
    # re-trust this traffic; a private CA is configured explicitly instead.
    session.trust_env = False
    session.verify = settings.ACD_WEBHOOK_CA_BUNDLE or True
    session.headers["User-Agent"] = USER_AGENT
    return session


def _describe(exc: requests.RequestException) -> str:
    if isinstance(exc, requests.Timeout):
        return "timed out"
    if isinstance(exc, requests.exceptions.SSLError):
        return "TLS failed (certificate not trusted?)"
    if isinstance(exc, requests.ConnectionError):
        return "could not connect"
    return exc.__class__.__name__


def post_signed(endpoint: AcdEndpoint, document: dict, *, now: float | None = None) -> SendResult:
    """POST ``document`` as JSON to the endpoint, signed with its secret; 2xx is success.

    Never raises for HTTP or network failures (they come back as SendResult).
    Raises SecretUnreadable when the stored secret cannot be decrypted.
    """
    secret = endpoint.secret
    body = json.dumps(document, separators=(",", ":"), sort_keys=True).encode()
    timestamp = str(int(now if now is not None else time.time()))
    headers = {
        "Content-Type": "application/json",
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: signature(secret, timestamp, body),
    }
    with _session() as session:
        try:
            response = session.post(
                endpoint.url,
                data=body,
                headers=headers,
                timeout=settings.ACD_WEBHOOK_TIMEOUT_SECONDS,
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            return SendResult(False, None, _describe(exc))
    if 200 <= response.status_code < 300:
        return SendResult(True, response.status_code, "")
    snippet = " ".join(response.text[:200].split())
    return SendResult(False, response.status_code, f"HTTP {response.status_code} {snippet}".strip())


# --- deliveries ---------------------------------------------------------------------


def delivery_queue(
    *,
    agent: Agent,
    acd_state: str,
    reason_code: str | None,
    availability: str,
    activity: str,
    occurred_at: datetime,
    backfill: bool = False,
) -> AcdDelivery | None:
    """Queue one delivery and send it right after the transaction commits.

    ``backfill`` (a state found by reconciliation, not a live change) sends it on the
    bulk queue, so hundreds of them never hold up live deliveries.
    Returns None (nothing queued) when no enabled ACD webhook is configured.
    """
    endpoint = endpoint_get()
    if not endpoint_ready(endpoint):
        return None
    payload = {
        "event": EVENT,
        "agent": {"external_id": agent.external_id},
        "acd_state": str(acd_state),
        "reason_code": reason_code or None,
        "teams": {"availability": availability, "activity": activity},
        "occurred_at": occurred_at.isoformat(),
    }
    delivery = AcdDelivery.objects.create(
        agent=agent, payload=payload, next_attempt_at=timezone.now()
    )
    # The id lets the ACD drop a delivery it already has (a retry after a lost answer).
    delivery.payload["id"] = delivery.pk
    AcdDelivery.objects.filter(pk=delivery.pk).update(payload=delivery.payload)
    _send_soon([delivery.pk], backfill=backfill)
    return delivery


def event_queue(payload: dict, *, agent: Agent | None = None) -> AcdDelivery | None:
    """Queue any event document (``payload`` must name its ``event``) for the ACD webhook,
    signed, retried and dead-lettered exactly like presence changes, and send it right
    after the transaction commits. The delivery's id is added as ``id``.

    Returns None (nothing queued) when no enabled ACD webhook is configured.
    """
    if not payload.get("event"):
        raise ValueError("an ACD event needs an 'event' name")
    endpoint = endpoint_get()
    if not endpoint_ready(endpoint):
        return None
    delivery = AcdDelivery.objects.create(
        agent=agent, payload=payload, next_attempt_at=timezone.now()
    )
    delivery.payload["id"] = delivery.pk
    AcdDelivery.objects.filter(pk=delivery.pk).update(payload=delivery.payload)
    _send_soon([delivery.pk])
    return delivery


def _send_soon(ids: Iterable[int], *, backfill: bool = False) -> None:
    # Otherwise the task's route: the presence sync queue (config/queues.py).
    options = {"queue": settings.TASK_QUEUES[BULK]} if backfill else {}
    for delivery_id in ids:
        task_enqueue("presence.to_acd.deliver", args=(delivery_id,), **options)


def delivery_claim(delivery_id: int) -> int | None:
    """Claim a pending, due delivery; returns its attempt number, or None when another
    worker holds it, it is not due yet, or it is no longer pending."""
    now = timezone.now()
    claimed = AcdDelivery.objects.filter(
        pk=delivery_id, status=AcdDelivery.Status.PENDING, next_attempt_at__lte=now
    ).update(attempts=F("attempts") + 1, next_attempt_at=now + LEASE)
    if not claimed:
        return None
    return AcdDelivery.objects.values_list("attempts", flat=True).get(pk=delivery_id)


def next_wait(attempt: int) -> timedelta | None:
    """The wait after failed attempt number ``attempt`` (1-based), None when it was the last."""
    if attempt >= MAX_ATTEMPTS:
        return None
    return BACKOFF[min(attempt, len(BACKOFF)) - 1]


def delivery_send(delivery_id: int, attempt: int) -> AcdDelivery.Status | None:
    """Send a delivery this worker claimed as ``attempt`` and record the outcome.

    Success → delivered; failure → pending again after the backoff, or dead
    after MAX_ATTEMPTS. Returns the new status, or None when the claim was
    lost (the row moved on) and nothing was sent.
    """
    mine = AcdDelivery.objects.filter(
        pk=delivery_id, status=AcdDelivery.Status.PENDING, attempts=attempt
    )
    delivery = mine.first()
    if delivery is None:
        return None
    endpoint = endpoint_get()
    if not endpoint_ready(endpoint):
        result = SendResult(False, None, "No enabled ACD webhook is configured")
    else:
        result = post_signed(endpoint, {**delivery.payload, "id": delivery.pk})
    now = timezone.now()
    if result.ok:
        mine.update(status=AcdDelivery.Status.DELIVERED, delivered_at=now, last_error="")
        return AcdDelivery.Status.DELIVERED
    wait = next_wait(attempt)
    error = f"Attempt {attempt}: {result.error}"[:500]
    if wait is None:
        mine.update(status=AcdDelivery.Status.DEAD, last_error=error, next_attempt_at=None)
        logger.warning("ACD delivery %s is a dead letter: %s", delivery_id, result.error)
        return AcdDelivery.Status.DEAD
    mine.update(last_error=error, next_attempt_at=now + wait)
    return AcdDelivery.Status.PENDING


def delivery_attempt(delivery_id: int, attempt: int | None = None) -> AcdDelivery.Status | None:
    """Claim (unless already claimed as ``attempt``) and send one delivery."""
    if attempt is None:
        attempt = delivery_claim(delivery_id)
        if attempt is None:
            return None
    return delivery_send(delivery_id, attempt)


def deliveries_dispatch_due(
    send: Callable[[int, int], object], *, limit: int = DISPATCH_BATCH
) -> int:
    """Claim every due pending delivery and hand each to ``send(id, attempt)``.

    Claiming here (not in the task) means a slow queue never gets the same
    delivery twice: a claimed row is not due again until its lease ends.
    Returns how many were handed on.
    """
    due = list(
        AcdDelivery.objects.filter(
            status=AcdDelivery.Status.PENDING, next_attempt_at__lte=timezone.now()
        )
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )
    handed = 0
    for delivery_id in due:
        attempt = delivery_claim(delivery_id)
        if attempt is not None:
            send(delivery_id, attempt)
            handed += 1
    return handed


def deliveries_replay(*, actor, delivery_ids: Iterable[int] | None = None) -> int:
    """Give dead letters a fresh set of attempts (all of them when ``delivery_ids`` is None).

    Returns how many were replayed; audited.
    """
    dead = AcdDelivery.objects.filter(status=AcdDelivery.Status.DEAD)
    if delivery_ids is not None:
        dead = dead.filter(pk__in=list(delivery_ids))
    with transaction.atomic():
        ids = list(dead.select_for_update().values_list("pk", flat=True))
        AcdDelivery.objects.filter(pk__in=ids, status=AcdDelivery.Status.DEAD).update(
            status=AcdDelivery.Status.PENDING,
            attempts=0,
            next_attempt_at=timezone.now(),
            last_error="",
        )
        if ids:
            audit_record(
                actor=actor,
                action="acd_delivery.replay",
                summary=f"Replayed {len(ids)} dead ACD deliver{'y' if len(ids) == 1 else 'ies'}",
                changes={"deliveries": ids[:100]},
            )
        _send_soon(ids)
    return len(ids)


def endpoint_test_send(*, actor) -> SendResult:
    """POST a signed test event now (a person asked for it). Raises EndpointNotConfigured."""
    endpoint = endpoint_get()
    if not endpoint.url or not endpoint.secret:
        raise EndpointNotConfigured("Enter the ACD webhook URL and secret first.")
    document = {
        "event": TEST_EVENT,
        "id": f"test-{uuid.uuid4()}",
        "occurred_at": timezone.now().isoformat(),
    }
    result = post_signed(endpoint, document)
    audit_record(
        actor=actor,
        action="acd_endpoint.test",
        target=endpoint,
        summary="Sent a test event to the ACD webhook: "
        + ("delivered" if result.ok else f"failed ({result.error})"),
    )
    return result


def delivery_counts() -> dict[str, int]:
    """How many deliveries are pending and dead, and delivered in the last 24 hours."""
    since = timezone.now() - timedelta(hours=24)
    return {
        "pending": AcdDelivery.objects.filter(status=AcdDelivery.Status.PENDING).count(),
        "dead": AcdDelivery.objects.filter(status=AcdDelivery.Status.DEAD).count(),
        "delivered": AcdDelivery.objects.filter(
            status=AcdDelivery.Status.DELIVERED, delivered_at__gte=since
        ).count(),
    }
