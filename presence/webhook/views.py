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
  malformed). Redelivering a refused item cannot make it valid. When not one
  item came from a subscription of ours with its clientState, the POST still
  counts as a refusal toward the sender's limit (config/ratelimit.py).
- 400: the body is not JSON with a ``value`` list (nesting too deep included),
  or a validation token is missing or not genuine. Microsoft says a POST with
  any invalid token must not be processed at all, so none of its items is; a
  non-2xx also means that if the fault is ours (a signing key we have not
  fetched yet) Graph retries.
- 413: the body is larger than GRAPH_WEBHOOK_MAX_BODY_BYTES, or holds more than
  MAX_ITEMS_PER_POST items (far more than Graph batches; see notifications.py).
- 503: the identity platform's keys or the task broker are unreachable: nothing
  was decided, Graph retries later.

Every refusal is counted in WebhookCounter (``rejected_<reason>``) and a POST's
refusals are logged as one line; nothing a caller sends makes the view fail
with a 500.

What a busy webhook would otherwise repeat on every POST is remembered for the
process: lookups (lookups.py: all subscriptions a POST names in one
query, unknown ids for a few seconds), clientStates that matched, validation
tokens that passed (until they expire: VerifiedTokens). The counters are
written as a group commit (counters.py) and the task message with one
LPUSH (broker.py). RSA-OAEP unwrapping each item's key is what remains.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from cryptography.hazmat.primitives.asymmetric import rsa
from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from config.ratelimit import client_ip, counted_as_refused, webhook_rejects_limited
from graph.http import make_session
from integrations.graphlink import graph_config
from integrations.services import account_get
from presence.subscriptions.certificates import private_key_for
from presence.subscriptions.services import client_state_matches
from presence.subscriptions.tasks import subscription_lifecycle
from presence.sync_models import Subscription
from presence.to_acd.tasks import notifications_process
from presence.webhook.counters import counters_add
from presence.webhook.lookups import (
    Recent,
    recent_accounts,
    recent_client_states,
    recent_keys,
    subscriptions_named,
)
from presence.webhook.notifications import (
    LIFECYCLE_EVENTS,
    MAX_ITEMS_PER_POST,
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

logger = logging.getLogger(__name__)

MAX_VALIDATION_TOKEN_LENGTH = 4096
# The first POST after a start fetches the keys; Graph wants its answer within 3 s.
KEYS_TIMEOUT_SECONDS = 2.0
RETRY_AFTER_SECONDS = "30"
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
    # requests' errors are OSErrors; a key set nested past the parser is RecursionError.
    except (OSError, ValueError, RecursionError) as exc:
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


# --- lookups and stamps -------------------------------------------------------------------

_stamped: dict[tuple[int, str], float] = {}


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
    if len(_stamped) > Recent.MAX_ENTRIES:
        _stamped.clear()
    _stamped.update(dict.fromkeys(due, now))


# --- checking one POST --------------------------------------------------------------------


def rejected(reason: Reason) -> str:
    return f"rejected_{reason}"


def _printable(detail: str) -> str:
    """A refusal's detail for the log: short, quoted, with line breaks escaped (it may
    quote what the caller sent)."""
    return repr(detail[:80])


@dataclass
class _Check:
    """The items of one POST as they pass or fail; lookups cached for the POST."""

    counts: Counter[str] = field(default_factory=Counter)
    refused: Counter[Reason] = field(default_factory=Counter)
    examples: dict[Reason, str] = field(default_factory=dict)
    subscriptions: dict[str, Subscription | None] = field(default_factory=dict)
    keys: dict[str, rsa.RSAPrivateKey | None] = field(default_factory=dict)
    # True once an item named a subscription of ours with its clientState: only
    # Graph (or whoever stole that secret) can send such an item.
    from_graph: bool = False

    def look_up_subscriptions(self, items: list[Any]) -> None:
        """Read the subscriptions all items name in one go (made-up ids included)."""
        named = []
        for item in items:
            if isinstance(item, dict):
                try:
                    named.append(item_text(item, "subscriptionId", limit=64))
                except NotificationRejected:
                    continue  # refused when its turn comes
        self.subscriptions = subscriptions_named(named)

    def subscription(self, item: Any) -> Subscription:
        """The item's subscription, when it is ours and the clientState matches."""
        if not isinstance(item, dict):
            raise NotificationRejected(Reason.MALFORMED, "an item is not an object")
        graph_id = item_text(item, "subscriptionId", limit=64)
        subscription = self.subscriptions.get(graph_id.lower())
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
        self.from_graph = True
        return subscription

    def private_key(self, encrypted: Any) -> rsa.RSAPrivateKey:
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
        self.refused[error.reason] += number
        self.examples.setdefault(error.reason, error.detail)

    def log(self, request: HttpRequest, items: int) -> None:
        """One line for all of the POST's refusals: a line per item let one POST of
        junk write thousands."""
        if not self.refused:
            return
        reasons = ", ".join(
            f"{reason}={number} (e.g. {_printable(self.examples[reason])})"
            for reason, number in sorted(self.refused.items())
        )
        logger.info(
            "refused %d of %d items of a Graph notification POST from %s: %s",
            self.refused.total(),
            items,
            client_ip(request) or "unknown",
            reasons,
        )


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
        items, tokens = parse_body(_read_body(request), max_items=MAX_ITEMS_PER_POST)
    except NotificationRejected as error:
        counters_add(Counter({rejected(error.reason): 1}))
        logger.info(
            "refused a Graph notification POST from %s: %s",
            client_ip(request) or "unknown",
            _printable(str(error)),
        )
        too_large = error.reason in (Reason.TOO_LARGE, Reason.TOO_MANY_ITEMS)
        return HttpResponse(
            str(error.detail), status=413 if too_large else 400, content_type="text/plain"
        )
    try:
        return _check_items(check, items, tokens, lifecycle_only=lifecycle_only)
    finally:
        check.log(request, len(items))


def _check_items(
    check: _Check, items: list[Any], tokens: list[Any], *, lifecycle_only: bool
) -> HttpResponse:
    # 1. Whose is each item? (one query for the POST, none when all are remembered)
    check.look_up_subscriptions(items)
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
                    named = event if isinstance(event, str) else type(event).__name__
                    raise NotificationRejected(Reason.MALFORMED, f"lifecycle event {named[:40]}")
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
    response = HttpResponse(status=202)
    # Graph would not notice a refusal (it keeps no per-item result), a prober gets
    # no hint, and the address is still charged for what it sent.
    return response if check.from_graph else counted_as_refused(response)


def _unavailable(text: str) -> HttpResponse:
    response = HttpResponse(text, status=503, content_type="text/plain")
    response["Retry-After"] = RETRY_AFTER_SECONDS
    return response


def _enqueue(changes: list[dict], lifecycle: list[tuple[str, str]]) -> None:
    if changes:
        notifications_process.delay(items=changes)
    for graph_id, event in lifecycle:
        subscription_lifecycle.delay(graph_id, event)


def graph_webhook_views(
    receive: Callable[..., HttpResponse],
) -> tuple[Callable[[HttpRequest], HttpResponse], Callable[[HttpRequest], HttpResponse]]:
    """The notificationUrl and lifecycleNotificationUrl views over one
    ``receive(request, *, lifecycle_only)``: POST only, no CSRF token or sign-in (Graph
    has neither; the items prove themselves), and refused senders rate limited."""

    def endpoint(lifecycle_only: bool) -> Callable[[HttpRequest], HttpResponse]:
        @csrf_exempt
        @login_not_required
        @webhook_rejects_limited
        @require_POST
        def view(request: HttpRequest) -> HttpResponse:
            return receive(request, lifecycle_only=lifecycle_only)

        return view

    return endpoint(False), endpoint(True)


# Presence changes (and lifecycle events sent there); reauthorizationRequired,
# subscriptionRemoved and missed on the lifecycle URL.
graph_notifications, graph_lifecycle = graph_webhook_views(_receive)
