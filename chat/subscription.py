"""The chat-message subscription: what experts type reaches ccbridge as it happens.

docs/graph.md, "Change notifications" and "Chat": one application-token
subscription on ``/users/{chat service account id}/chats/getAllMessages`` (every
chat the account is in), change type ``created``, with encrypted resource data
(the console's notification certificate, presence/certificates.py), a random
clientState, and a lifecycle URL. It is created when the account is marked,
renewed before it expires, recreated when Graph removes it, and a ``missed``
event reads the live conferences' chats back (chat/inbound.py).
"""

from __future__ import annotations

import contextlib
import hmac
import logging
import secrets
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from chat.models import ChatServiceAccount, ChatSubscription
from chat.service_account import chat_account_get
from graph.errors import Conflict, GraphError, NotFound
from integrations.graphlink import app_graph_client, token_cache_save
from integrations.jobs import task_enqueue
from integrations.services import account_get
from presence.subscriptions.certificates import certificate_active, encryption_certificate_b64

logger = logging.getLogger(__name__)

LIFETIME = timedelta(minutes=55)
RENEW_WITHIN = timedelta(minutes=15)
NOTIFICATION_PATH = "/graph/chat/notifications"
LIFECYCLE_PATH = "/graph/chat/lifecycle"


def chat_resource(account: ChatServiceAccount) -> str:
    return f"/users/{account.system_user.graph_id}/chats/getAllMessages"


def subscription_get() -> ChatSubscription:
    """The one subscription row (created, with a fresh clientState, on first use)."""
    row = ChatSubscription.objects.first()
    if row is not None:
        return row
    try:
        with transaction.atomic():
            return ChatSubscription.objects.create(client_state=secrets.token_urlsafe(48))
    except IntegrityError:
        return ChatSubscription.objects.get()


def client_state_matches(row: ChatSubscription, value: object) -> bool:
    """True when ``value`` is the subscription's clientState (constant time)."""
    if not isinstance(value, str) or not value:
        return False
    expected = row.client_state
    given = value.encode(errors="surrogatepass")
    return bool(expected) and hmac.compare_digest(expected.encode(), given)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _expiry(answer: dict | None, fallback: datetime) -> datetime:
    try:
        return datetime.fromisoformat(str((answer or {}).get("expirationDateTime")))
    except ValueError:
        return fallback


def _fail(row: ChatSubscription, text: str, now: datetime) -> ChatSubscription:
    row.status, row.last_error, row.last_error_at = ChatSubscription.Status.FAILED, text, now
    row.save(update_fields=["status", "last_error", "last_error_at"])
    logger.warning("chat subscription: %s", text)
    return row


def _create(client, row: ChatSubscription, resource: str, now: datetime) -> None:
    certificate = certificate_active(now=now)
    base = settings.CCBRIDGE_PUBLIC_URL.rstrip("/")
    body = {
        "changeType": "created",
        "notificationUrl": base + NOTIFICATION_PATH,
        "lifecycleNotificationUrl": base + LIFECYCLE_PATH,
        "resource": resource,
        "expirationDateTime": _iso(now + LIFETIME),
        "clientState": row.client_state,
        "includeResourceData": True,
        "encryptionCertificate": encryption_certificate_b64(certificate),
        "encryptionCertificateId": certificate.certificate_id,
    }
    try:
        answer = client.post("/subscriptions", body)
    except Conflict:
        # A subscription of this app on the same resource that this row lost track of
        # (a restored database, a crash between create and save): replace it.
        for page in client.iter_pages("/subscriptions"):
            for item in page:
                same = str(item.get("resource") or "").lstrip("/") == resource.lstrip("/")
                if same and item.get("id") != row.graph_id:
                    with contextlib.suppress(NotFound):
                        client.delete(f"/subscriptions/{item['id']}")
        answer = client.post("/subscriptions", body)
    row.graph_id = str((answer or {}).get("id") or "")
    row.resource = resource
    row.certificate_id = certificate.certificate_id
    row.expires_at = _expiry(answer, now + LIFETIME)
    row.renewed_at = now
    row.status = ChatSubscription.Status.ACTIVE
    row.last_error = ""


def subscription_ensure(
    *, now: datetime | None = None, force_renew: bool = False
) -> ChatSubscription:
    """Make Graph hold a live subscription for the chat service account: create it,
    renew it within RENEW_WITHIN of expiry (or now, with ``force_renew``), recreate it
    when it is gone, removed, on another resource or certificate. After a gap (it was
    removed or had failed) the live conferences' chats are read back.

    Failures are recorded on the row (status failed, last_error), never raised."""
    now = now or timezone.now()
    integration = account_get()
    account = chat_account_get()
    with transaction.atomic():
        row = subscription_get()
        row = ChatSubscription.objects.select_for_update().get(pk=row.pk)
        if integration is None or account is None or not account.ready:
            if row.graph_id and integration is not None:
                _delete_quietly(integration, row)
            row.status, row.graph_id, row.expires_at = ChatSubscription.Status.PENDING, "", None
            row.save(update_fields=["status", "graph_id", "expires_at"])
            return row
        resource = chat_resource(account)
        certificate = certificate_active(now=now)
        gap = row.status in (ChatSubscription.Status.REMOVED, ChatSubscription.Status.FAILED)
        needs_new = (
            not row.graph_id
            or row.status != ChatSubscription.Status.ACTIVE
            or row.resource != resource
            or row.certificate_id != certificate.certificate_id
        )
        due = force_renew or row.expires_at is None or row.expires_at - now <= RENEW_WITHIN
        if not needs_new and not due:
            return row
        client, tokens = app_graph_client(integration)
        try:
            if needs_new:
                if row.graph_id:
                    with contextlib.suppress(GraphError):
                        client.delete(f"/subscriptions/{row.graph_id}")
                _create(client, row, resource, now)
            else:
                try:
                    client.patch(
                        f"/subscriptions/{row.graph_id}",
                        {"expirationDateTime": _iso(now + LIFETIME)},
                    )
                    row.expires_at, row.renewed_at = now + LIFETIME, now
                except NotFound:
                    gap = True
                    _create(client, row, resource, now)
        except GraphError as exc:
            return _fail(row, f"Could not keep the chat-message subscription: {exc}", now)
        finally:
            token_cache_save(integration, tokens)
        row.save()
    if gap:
        transaction.on_commit(_catch_up_soon)
    return row


def _delete_quietly(integration, row: ChatSubscription) -> None:
    client, tokens = app_graph_client(integration)
    try:
        with contextlib.suppress(GraphError):
            client.delete(f"/subscriptions/{row.graph_id}")
    finally:
        token_cache_save(integration, tokens)


def _catch_up_soon() -> None:
    task_enqueue("chat.inbound.conferences_catch_up")


def subscription_lifecycle(graph_id: str, event: str) -> str:
    """Act on a lifecycle event of the chat subscription: ``reauthorizationRequired`` →
    renew now; ``subscriptionRemoved`` → create it again and read the chats back;
    ``missed`` → read the chats back. Returns what was done."""
    rows = ChatSubscription.objects.filter(graph_id=graph_id)
    if not rows.exists():
        return "unknown subscription"
    if event == "reauthorizationRequired":
        rows.update(reauthorizations=F("reauthorizations") + 1)
        subscription_ensure(force_renew=True)
        return "renewed"
    if event == "subscriptionRemoved":
        rows.update(
            removals=F("removals") + 1,
            status=ChatSubscription.Status.REMOVED,
            last_error="Graph removed the chat subscription (subscriptionRemoved); created again.",
            last_error_at=timezone.now(),
        )
        subscription_ensure()
        return "recreated"
    if event == "missed":
        rows.update(missed=F("missed") + 1)
        from chat.inbound import conferences_catch_up

        return f"read back {conferences_catch_up()} messages"
    return "ignored"
