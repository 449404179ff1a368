"""The Graph webhook for chat messages: ``/graph/chat/notifications`` and ``/graph/chat/lifecycle``.

The same checks as the presence webhook, with its functions (presence/notifications.py:
body, validation tokens, signature and decryption; presence/webhook.py: the signing
keys and tokens already verified): the validation handshake answered 200
text/plain; each item must name the chat subscription and carry its clientState
(constant time); validation tokens are required with resource data; encrypted
content must verify before it is decrypted. Refused items are counted
(WebhookCounter ``chat_rejected_<reason>``) and logged, never applied; accepted
ones go to ONE worker task and the answer is 202, well within Graph's 3 s.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from typing import Any

from django.conf import settings
from django.db.models import F
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from chat.models import ChatSubscription
from chat.subscription import client_state_matches
from config.ratelimit import client_ip, counted_as_refused
from integrations.services import account_get
from presence.subscriptions.certificates import private_key_for
from presence.webhook.counters import counters_add
from presence.webhook.notifications import (
    LIFECYCLE_EVENTS,
    KeysUnavailable,
    NotificationRejected,
    Reason,
    decrypt_content,
    item_text,
    parse_body,
    validation_tokens_check,
)
from presence.webhook.views import graph_webhook_views, keys_url, signing_keys, verified_tokens

logger = logging.getLogger(__name__)

MAX_VALIDATION_TOKEN_LENGTH = 4096
# chats('19:…')/messages('1616…'), as Graph names a chat message resource.
_RESOURCE = re.compile(r"chats\('([^']+)'\)/messages\('([^']+)'\)", re.IGNORECASE)


def _plain(text: str, status: int) -> HttpResponse:
    return HttpResponse(text, status=status, content_type="text/plain; charset=utf-8")


def _read_body(request: HttpRequest) -> bytes:
    limit = settings.GRAPH_WEBHOOK_MAX_BODY_BYTES
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        raise NotificationRejected(Reason.TOO_LARGE, f"{declared} bytes")
    raw = request.read(limit + 1)
    if len(raw) > limit:
        raise NotificationRejected(Reason.TOO_LARGE, f"more than {limit} bytes")
    return raw


def _message_ids(item: dict[str, Any], resource: dict[str, Any] | None) -> tuple[str, str]:
    """(chat id, message id) of a notification item."""
    match = _RESOURCE.search(str(item.get("resource") or ""))
    chat_id = str((resource or {}).get("chatId") or (match.group(1) if match else ""))
    data = item.get("resourceData")
    message_id = str(
        (resource or {}).get("id")
        or (data.get("id") if isinstance(data, dict) else "")
        or (match.group(2) if match else "")
    )
    if not chat_id or not message_id or len(chat_id) > 200 or len(message_id) > 64:
        raise NotificationRejected(Reason.MALFORMED, "no chat or message id")
    return chat_id, message_id


def _item_read(item: Any, row: ChatSubscription) -> dict[str, Any]:
    if not isinstance(item, dict):
        raise NotificationRejected(Reason.MALFORMED, "an item is not an object")
    graph_id = item_text(item, "subscriptionId", limit=64)
    if not row.graph_id or graph_id.lower() != row.graph_id.lower():
        raise NotificationRejected(Reason.UNKNOWN_SUBSCRIPTION, graph_id)
    if not client_state_matches(row, item.get("clientState")):
        raise NotificationRejected(Reason.BAD_CLIENT_STATE, graph_id)
    return item


def _decrypted(item: dict[str, Any]) -> dict[str, Any]:
    encrypted = item["encryptedContent"]
    certificate_id = (
        encrypted.get("encryptionCertificateId") if isinstance(encrypted, dict) else None
    )
    if not isinstance(certificate_id, str) or not 0 < len(certificate_id) <= 128:
        raise NotificationRejected(Reason.MALFORMED, "no encryptionCertificateId")
    key = private_key_for(certificate_id)
    if key is None:
        raise NotificationRejected(Reason.UNKNOWN_CERTIFICATE, certificate_id)
    return decrypt_content(encrypted, key)


def _tokens_check(tokens: list[Any]) -> None:
    account = account_get()
    if account is None:
        raise NotificationRejected(Reason.BAD_VALIDATION_TOKEN, "no integration account")
    tenant, client_id = account.tenant.strip(), account.client_id.strip()
    validation_tokens_check(
        tokens,
        keys=signing_keys,
        keys_url=keys_url(tenant),
        client_id=client_id,
        tenant_id=tenant,
        verified=verified_tokens,
    )


def _receive(request: HttpRequest, *, lifecycle_only: bool) -> HttpResponse:
    token = request.GET.get("validationToken")
    if token is not None:
        if len(token) > MAX_VALIDATION_TOKEN_LENGTH:
            return _plain("validationToken too long", 400)
        return _plain(token, 200)
    counts: Counter[str] = Counter()
    try:
        items, tokens = parse_body(_read_body(request))
    except NotificationRejected as error:
        counters_add(Counter({f"chat_rejected_{error.reason}": 1}))
        too_large = error.reason in (Reason.TOO_LARGE, Reason.TOO_MANY_ITEMS)
        return _plain(error.detail, 413 if too_large else 400)

    row = ChatSubscription.objects.first() or ChatSubscription(graph_id="")
    refused: Counter[str] = Counter()
    known: list[dict[str, Any]] = []
    for item in items:
        try:
            known.append(_item_read(item, row))
            if lifecycle_only and item.get("lifecycleEvent") not in LIFECYCLE_EVENTS:
                known.pop()
                raise NotificationRejected(Reason.MALFORMED, "not a lifecycle event")
        except NotificationRejected as error:
            refused[error.reason] += 1

    if known and (tokens or any("encryptedContent" in item for item in known)):
        try:
            _tokens_check(tokens)
        except NotificationRejected as error:
            counters_add(Counter({f"chat_rejected_{error.reason}": len(known)}))
            return _plain(error.detail, 400)
        except KeysUnavailable as exc:
            logger.warning("cannot check validation tokens: %s", exc)
            response = _plain("The identity platform's signing keys are unreachable.", 503)
            response["Retry-After"] = "30"
            return response

    messages: list[dict[str, Any]] = []
    lifecycle: list[str] = []
    for item in known:
        try:
            event = item.get("lifecycleEvent")
            if event is not None:
                if event not in LIFECYCLE_EVENTS:
                    raise NotificationRejected(Reason.MALFORMED, "unknown lifecycle event")
                lifecycle.append(event)
                continue
            resource = _decrypted(item) if "encryptedContent" in item else None
            chat_id, message_id = _message_ids(item, resource)
            messages.append({"chat_id": chat_id, "message_id": message_id, "message": resource})
        except NotificationRejected as error:
            refused[error.reason] += 1

    try:
        _enqueue(row.graph_id, messages, lifecycle)
    except Exception:  # the broker is down: Graph must retry, not lose the messages
        logger.exception("could not queue chat notifications")
        response = _plain("The task queue is unavailable.", 503)
        response["Retry-After"] = "30"
        return response
    for reason, number in refused.items():
        counts[f"chat_rejected_{reason}"] += number
    counts["chat_accepted"] += len(messages) + len(lifecycle)
    counters_add(counts)
    if refused:
        logger.info(
            "refused %d of %d chat notification items from %s: %s",
            refused.total(),
            len(items),
            client_ip(request) or "unknown",
            ", ".join(f"{reason}={number}" for reason, number in sorted(refused.items())),
        )
    if messages or lifecycle:
        ChatSubscription.objects.filter(pk=row.pk).update(
            last_notification_at=timezone.now(),
            notifications=F("notifications") + len(messages),
        )
    response = HttpResponse(status=202)
    return response if known else counted_as_refused(response)


def _enqueue(graph_id: str, messages: list[dict[str, Any]], lifecycle: list[str]) -> None:
    # Sent at once, not on commit: a broker failure must reach the caller (503).
    from config.celery import app

    if messages:
        app.send_task("chat.inbound.notifications_process", kwargs={"items": messages})
    for event in lifecycle:
        app.send_task("chat.subscription.lifecycle", args=(graph_id, event))


# Graph's notificationUrl and lifecycleNotificationUrl for the chat subscription.
chat_notifications, chat_lifecycle = graph_webhook_views(_receive)
