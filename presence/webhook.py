"""The Graph webhook: validation handshake, verification, decryption, acknowledgement.

Graph POSTs change notifications to ``/graph/notifications`` and lifecycle
events to ``/graph/lifecycle`` and wants a 2xx within 3 s (docs/graph.md). The
request does only what cannot wait: check each item (known subscription,
clientState in constant time, validation tokens, signature, decryption), then
hands the accepted items to ONE Celery task and answers 202.

Status codes, chosen so that Graph never drops a valid notification and never
retries garbage for four hours:

- 200 text/plain with the token: the validation handshake (``?validationToken=``).
- 202: the POST was read; every item was either queued or refused on its own
  merits (unknown subscription, wrong clientState, bad signature, undecryptable,
  malformed). Redelivering a refused item cannot make it valid.
- 400: the body is not JSON with a ``value`` list, or a validation token is
  missing or not genuine. Microsoft says a POST with any invalid token must not
  be processed at all, so none of its items is; a non-2xx also means that if
  the fault is ours (a signing key we have not fetched yet) Graph retries.
- 413: the body is larger than GRAPH_WEBHOOK_MAX_BODY_BYTES.
- 503: the identity platform's keys or the task broker are unreachable: nothing
  was decided, Graph retries later.

Every refusal is counted in WebhookCounter (``rejected_<reason>``); nothing a
caller sends makes the view fail with a 500.

What a busy webhook would otherwise repeat on every POST is remembered for the
process: lookups (a few seconds), clientStates that matched, validation tokens
that passed (until they expire: VerifiedTokens). The counters are written as a
group commit (webhook_counters.py) and the task message with one LPUSH
(webhook_broker.py). RSA-OAEP unwrapping each item's key is what remains.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from cryptography.hazmat.primitives.asymmetric import rsa
from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.db.models.signals import post_delete, post_save
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from config.ratelimit import webhook_rejects_limited
from graph.http import make_session
from integrations.graphlink import graph_config
from integrations.models import IntegrationAccount
from integrations.services import account_get
from presence.notifications import (
    LIFECYCLE_EVENTS,
    KeysUnavailable,
    NotificationRejected,
    Reason,
    SigningKeys,
    VerifiedTokens,
    decrypt_content,
    item_text,
    parse_body,
    presence_from_resource,
    resource_user_id,
    validation_tokens_check,
)
from presence.sync_models import NotificationCertificate, Subscription
from presence.webhook_counters import counters_add

logger = logging.getLogger(__name__)

MAX_VALIDATION_TOKEN_LENGTH = 4096
# The first POST after a start fetches the keys; Graph wants its answer within 3 s.
KEYS_TIMEOUT_SECONDS = 2.0
RETRY_AFTER_SECONDS = "30"
# How long a web process trusts what it read about subscriptions, the account and the
# certificates (saves and deletes made in the same process clear it at once).
LOOKUP_SECONDS = 30.0
# last_notification_at is for people (the subscription page): a few seconds' accuracy
# is plenty, and stamping it on every POST would make every web thread queue for one row.
STAMP_EVERY_SECONDS = 10.0


# --- the identity platform's signing keys ----------------------------------------------


def _fetch_keys(url: str) -> dict[str, Any]:
    """GET the JWKS document through graph/'s session (its CA, no environment proxies)."""
    session = make_session(graph_config())
    try:
        response = session.get(url, timeout=KEYS_TIMEOUT_SECONDS)
        if response.status_code != 200:
            raise KeysUnavailable(f"HTTP {response.status_code} from {url}")
        document = response.json()
    except (OSError, ValueError) as exc:  # requests' errors are OSErrors
        raise KeysUnavailable(f"{url}: {exc.__class__.__name__}") from None
    finally:
        session.close()
    if not isinstance(document, dict):
        raise KeysUnavailable(f"{url} did not return a key set")
    return document


signing_keys = SigningKeys(lambda url: _fetch_keys(url))
verified_tokens = VerifiedTokens()


def keys_url(tenant: str) -> str:
    """The identity platform's published signing keys for the tenant."""
    host = settings.GRAPH_AUTHORITY_HOST.rstrip("/")
    return f"{host}/{quote(tenant, safe='')}/discovery/v2.0/keys"


# --- lookups remembered for a few seconds -----------------------------------------------


class _Recent:
    """Values loaded by key, kept for ``ttl`` seconds in this process. Thread-safe.

    Misses (None) are never kept: an id unknown now may be known a moment later.
    Every POST would otherwise read the same few rows again, and under load those
    round trips, not the checks, are what the webhook waits for.
    """

    MAX_ENTRIES = 4096

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._lock = threading.Lock()
        self._values: dict[Hashable, tuple[float, Any]] = {}

    def get(self, key: Hashable, load: Callable[[], Any]) -> Any:
        now = time.monotonic()
        with self._lock:
            kept = self._values.get(key)
        if kept is not None and now - kept[0] < self.ttl:
            return kept[1]
        value = load()
        if value is not None:
            with self._lock:
                if len(self._values) >= self.MAX_ENTRIES:
                    self._values.clear()
                self._values[key] = (now, value)
        return value

    def clear(self, *args: Any, **kwargs: Any) -> None:
        """Forget everything (also a signal receiver, hence the arguments)."""
        with self._lock:
            self._values.clear()


recent_subscriptions = _Recent(LOOKUP_SECONDS)
recent_accounts = _Recent(LOOKUP_SECONDS)
recent_keys = _Recent(LOOKUP_SECONDS)
# (subscription pk, SHA-256 of a clientState) → True once that clientState matched.
recent_client_states = _Recent(LOOKUP_SECONDS)
_stamped: dict[tuple[int, str], float] = {}

for _model, _cache in (
    (Subscription, recent_subscriptions),
    (Subscription, recent_client_states),
    (IntegrationAccount, recent_accounts),
    (NotificationCertificate, recent_keys),
):
    post_save.connect(_cache.clear, sender=_model, weak=False)
    post_delete.connect(_cache.clear, sender=_model, weak=False)


def _account_ids() -> tuple[str, str] | None:
    """(tenant, client id) of the integration account, or None."""

    def load() -> tuple[str, str] | None:
        account = account_get()
        return (account.tenant.strip(), account.client_id.strip()) if account else None

    return recent_accounts.get("account", load)


def _stamp_last_notification(subscriptions: set[tuple[int, str]]) -> None:
    """Set last_notification_at of subscriptions this process has not stamped lately."""
    now = time.monotonic()
    due = [
        key
        for key in subscriptions
        if now - _stamped.get(key, -STAMP_EVERY_SECONDS) >= STAMP_EVERY_SECONDS
    ]
    if not due:
        return
    Subscription.objects.filter(pk__in=[pk for pk, _graph_id in due]).update(
        last_notification_at=timezone.now()
    )
    if len(_stamped) > _Recent.MAX_ENTRIES:
        _stamped.clear()
    _stamped.update(dict.fromkeys(due, now))


# --- checking one POST --------------------------------------------------------------------


def rejected(reason: Reason) -> str:
    return f"rejected_{reason}"


@dataclass
class _Check:
    """The items of one POST as they pass or fail; lookups cached for the POST."""

    counts: Counter[str] = field(default_factory=Counter)
    subscriptions: dict[str, Subscription | None] = field(default_factory=dict)
    keys: dict[str, rsa.RSAPrivateKey | None] = field(default_factory=dict)

    def subscription(self, item: Any) -> Subscription:
        """The item's subscription, when it is ours and the clientState matches."""
        from presence.subscriptions import client_state_matches, subscription_for_graph_id

        if not isinstance(item, dict):
            raise NotificationRejected(Reason.MALFORMED, "an item is not an object")
        graph_id = item_text(item, "subscriptionId", limit=64)
        if graph_id not in self.subscriptions:
            self.subscriptions[graph_id] = recent_subscriptions.get(
                graph_id.lower(), lambda: subscription_for_graph_id(graph_id)
            )
        subscription = self.subscriptions[graph_id]
        if subscription is None:
            raise NotificationRejected(Reason.UNKNOWN_SUBSCRIPTION, graph_id)
        client_state = item.get("clientState")
        if not isinstance(client_state, str):
            raise NotificationRejected(Reason.BAD_CLIENT_STATE, graph_id)
        # Decrypting the stored clientState for every item cost more than the rest of
        # the item's checks: a match is remembered, under a hash of what was sent.
        given = hashlib.sha256(client_state.encode(errors="surrogatepass")).digest()
        if not recent_client_states.get(
            (subscription.pk, given),
            lambda: client_state_matches(subscription, client_state) or None,
        ):
            raise NotificationRejected(Reason.BAD_CLIENT_STATE, graph_id)
        return subscription

    def private_key(self, encrypted: Any) -> rsa.RSAPrivateKey:
        from presence.certificates import private_key_for

        certificate_id = (
            encrypted.get("encryptionCertificateId") if isinstance(encrypted, dict) else None
        )
        if not isinstance(certificate_id, str) or not 0 < len(certificate_id) <= 128:
            raise NotificationRejected(Reason.MALFORMED, "no encryptionCertificateId")
        if certificate_id not in self.keys:
            self.keys[certificate_id] = recent_keys.get(
                certificate_id, lambda: private_key_for(certificate_id)
            )
        key = self.keys[certificate_id]
        if key is None:
            raise NotificationRejected(Reason.UNKNOWN_CERTIFICATE, certificate_id)
        return key

    def reject(self, error: NotificationRejected, number: int = 1) -> None:
        self.counts[rejected(error.reason)] += number
        logger.info("refused a Graph notification: %s", error)


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


def _handshake(token: str) -> HttpResponse:
    # docs/graph.md: 200, text/plain, the decoded token; nothing else happens.
    if len(token) > MAX_VALIDATION_TOKEN_LENGTH:
        return HttpResponse("validationToken too long", status=400, content_type="text/plain")
    return HttpResponse(token, content_type="text/plain; charset=utf-8")


def _tokens_check(tokens: list[Any]) -> None:
    account = _account_ids()
    if account is None:
        raise NotificationRejected(Reason.BAD_VALIDATION_TOKEN, "no integration account")
    tenant, client_id = account
    validation_tokens_check(
        tokens,
        keys=signing_keys,
        keys_url=keys_url(tenant),
        client_id=client_id,
        tenant_id=tenant,
        verified=verified_tokens,
    )


def _presence_item(check: _Check, item: dict, graph_id: str, observed_at: str) -> dict:
    """The task's view of one accepted change notification (decrypted)."""
    user_id = resource_user_id(item)
    if "encryptedContent" not in item:
        # A notification without resource data still says the user changed:
        # the task reconciles that agent instead.
        if user_id is None:
            raise NotificationRejected(Reason.MALFORMED, "no resourceData.id")
        check.counts["accepted_without_data"] += 1
        change = {"user_id": user_id, "availability": None, "activity": None, "sequence": None}
    else:
        encrypted = item["encryptedContent"]
        resource = decrypt_content(encrypted, check.private_key(encrypted))
        presence = presence_from_resource(resource, user_id)
        change = {
            "user_id": presence.user_id,
            "availability": presence.availability,
            "activity": presence.activity,
            "sequence": presence.sequence,
        }
    return {"subscription": graph_id, "observed_at": observed_at, **change}


def _receive(request: HttpRequest, *, lifecycle_only: bool) -> HttpResponse:
    token = request.GET.get("validationToken")
    if token is not None:
        return _handshake(token)
    check = _Check()
    try:
        items, tokens = parse_body(_read_body(request))
    except NotificationRejected as error:
        counters_add(Counter({rejected(error.reason): 1}))
        status = 413 if error.reason == Reason.TOO_LARGE else 400
        return HttpResponse(str(error.detail), status=status, content_type="text/plain")

    # 1. Whose is each item? (cheap: one query per subscription)
    known: list[tuple[dict, Subscription]] = []
    for item in items:
        try:
            subscription = check.subscription(item)
            if lifecycle_only and item.get("lifecycleEvent") not in LIFECYCLE_EVENTS:
                raise NotificationRejected(Reason.MALFORMED, "not a lifecycle event")
            known.append((item, subscription))
        except NotificationRejected as error:
            check.reject(error)

    # 2. Validation tokens: required with resource data, checked whenever sent.
    rich = any("encryptedContent" in item for item, _ in known)
    if known and (rich or tokens):
        try:
            _tokens_check(tokens)
        except NotificationRejected as error:
            check.reject(error, len(known))
            counters_add(check.counts)
            return HttpResponse(error.detail, status=400, content_type="text/plain")
        except KeysUnavailable as exc:
            logger.warning("cannot check validation tokens: %s", exc)
            check.counts["deferred_keys_unavailable"] += len(known)
            counters_add(check.counts)
            return _unavailable("The identity platform's signing keys are unreachable.")

    # 3. Decrypt and read each item.
    observed_at = timezone.now().isoformat()
    changes: list[dict] = []
    lifecycle: list[tuple[str, str]] = []
    accepted_subscriptions: set[tuple[int, str]] = set()
    for item, subscription in known:
        graph_id = item["subscriptionId"]
        try:
            event = item.get("lifecycleEvent")
            if event is not None:
                if event not in LIFECYCLE_EVENTS:
                    raise NotificationRejected(Reason.MALFORMED, f"lifecycle event {event!r}")
                lifecycle.append((graph_id, event))
                check.counts[f"lifecycle_{event}"] += 1
            else:
                changes.append(_presence_item(check, item, graph_id, observed_at))
        except NotificationRejected as error:
            check.reject(error)
            continue
        accepted_subscriptions.add((subscription.pk, subscription.graph_id))

    # 4. Hand over to the worker; only then count (a 503 is counted once, on retry).
    try:
        _enqueue(changes, lifecycle)
    except Exception:  # the broker is down: Graph must retry, not lose the changes
        logger.exception("could not queue Graph notifications")
        check.counts["deferred_broker_unavailable"] += len(changes) + len(lifecycle)
        counters_add(check.counts)
        return _unavailable("The task queue is unavailable.")
    check.counts["accepted"] += len(changes) - check.counts["accepted_without_data"]
    counters_add(check.counts)
    if accepted_subscriptions:
        _stamp_last_notification(accepted_subscriptions)
    return HttpResponse(status=202)


def _unavailable(text: str) -> HttpResponse:
    response = HttpResponse(text, status=503, content_type="text/plain")
    response["Retry-After"] = RETRY_AFTER_SECONDS
    return response


def _enqueue(changes: list[dict], lifecycle: list[tuple[str, str]]) -> None:
    if changes:
        from presence.inbound_tasks import notifications_process

        notifications_process.delay(items=changes)
    if lifecycle:
        from presence import subscription_tasks

        task = getattr(subscription_tasks, "subscription_lifecycle", None)
        if task is None:
            raise RuntimeError("presence.subscription_tasks.subscription_lifecycle is missing")
        for graph_id, event in lifecycle:
            task.delay(graph_id, event)


@csrf_exempt
@login_not_required
@webhook_rejects_limited
@require_POST
def graph_notifications(request: HttpRequest) -> HttpResponse:
    """Graph's notificationUrl: presence changes (and lifecycle events sent here)."""
    return _receive(request, lifecycle_only=False)


@csrf_exempt
@login_not_required
@webhook_rejects_limited
@require_POST
def graph_lifecycle(request: HttpRequest) -> HttpResponse:
    """Graph's lifecycleNotificationUrl: reauthorizationRequired, subscriptionRemoved, missed."""
    return _receive(request, lifecycle_only=True)
