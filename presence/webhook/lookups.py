"""What the Graph webhook reads from the database, remembered for a few seconds per process.

Every POST would otherwise read the same few rows again, and under load those
round trips, not the checks, are what the webhook waits for. Saves and deletes
made in this process forget everything at once (signals); those made in
another process (the worker creates subscriptions) are seen once the memory
lapses.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable, Iterable
from typing import Any

from django.db.models.functions import Lower
from django.db.models.signals import post_delete, post_save

from integrations.models import IntegrationAccount
from presence.sync_models import NotificationCertificate, Subscription

# How long a web process trusts what it read about subscriptions, the account and
# the certificates.
LOOKUP_SECONDS = 30.0
# Subscription ids nobody knows. Short: the worker may save a new subscription a
# moment after Graph first names it, and until this lapses the web processes that
# remembered the id as unknown refuse its notifications.
UNKNOWN_SECONDS = 5.0

_MISSING = object()


class Recent:
    """Values by key, kept for ``ttl`` seconds in this process. Thread-safe."""

    MAX_ENTRIES = 4096

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._lock = threading.Lock()
        self._values: dict[Hashable, tuple[float, Any]] = {}

    def find(self, key: Hashable, default: Any = _MISSING) -> Any:
        """The value kept for ``key``, or ``default`` when none is (or it lapsed)."""
        with self._lock:
            kept = self._values.get(key)
        if kept is None or time.monotonic() - kept[0] >= self.ttl:
            return default
        return kept[1]

    def put(self, key: Hashable, value: Any) -> None:
        now = time.monotonic()
        with self._lock:
            if len(self._values) >= self.MAX_ENTRIES:
                self._values.clear()
            self._values[key] = (now, value)

    def get(self, key: Hashable, load: Callable[[], Any]) -> Any:
        """The value kept for ``key``, else ``load()``; a None from load is not kept."""
        value = self.find(key)
        if value is _MISSING:
            value = load()
            if value is not None:
                self.put(key, value)
        return value

    def clear(self, *args: Any, **kwargs: Any) -> None:
        """Forget everything (also a signal receiver, hence the arguments)."""
        with self._lock:
            self._values.clear()


recent_subscriptions = Recent(LOOKUP_SECONDS)
# Kept apart from the known ones so that ids made up by the thousand never push a
# real subscription out.
recent_unknown_subscriptions = Recent(UNKNOWN_SECONDS)
recent_accounts = Recent(LOOKUP_SECONDS)
recent_keys = Recent(LOOKUP_SECONDS)
# (subscription pk, SHA-256 of a clientState) → True once that clientState matched.
recent_client_states = Recent(LOOKUP_SECONDS)

for _model, _cache in (
    (Subscription, recent_subscriptions),
    (Subscription, recent_unknown_subscriptions),
    (Subscription, recent_client_states),
    (IntegrationAccount, recent_accounts),
    (NotificationCertificate, recent_keys),
):
    post_save.connect(_cache.clear, sender=_model, weak=False)
    post_delete.connect(_cache.clear, sender=_model, weak=False)


def subscriptions_named(graph_ids: Iterable[str]) -> dict[str, Subscription | None]:
    """The subscription each id names (case-insensitively), None for an unknown id;
    keyed by the lower-cased id.

    Side effects: at most one query, for the ids not remembered either way; what
    it finds (or does not) is remembered.
    """
    found: dict[str, Subscription | None] = {}
    missing: set[str] = set()
    for graph_id in {graph_id.lower() for graph_id in graph_ids}:
        subscription = recent_subscriptions.find(graph_id, None)
        if subscription is not None:
            found[graph_id] = subscription
        elif recent_unknown_subscriptions.find(graph_id, False):
            found[graph_id] = None
        else:
            missing.add(graph_id)
    if not missing:
        return found
    rows = (
        Subscription.objects.annotate(graph_id_lower=Lower("graph_id"))
        .filter(graph_id_lower__in=missing)
        .select_related("system_user")
    )
    for row in rows:
        found.setdefault(row.graph_id_lower, row)
    for graph_id in missing:
        subscription = found.setdefault(graph_id, None)
        if subscription is None:
            recent_unknown_subscriptions.put(graph_id, True)
        else:
            recent_subscriptions.put(graph_id, subscription)
    return found
