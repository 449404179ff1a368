"""Reconciliation: read Teams presence with the app's own token and hand each one to the
Teams → contact center path, as if a notification had brought it.

docs/graph.md, "Presence": ``getPresencesByUserId`` takes at most 650 ids a call and at most
1,500 calls per 30 s per app per tenant (then 429 with Retry-After). The client already
waits out a 429; the token bucket here keeps one run under the limit in the first place.

Which agents (``agent_ids`` None): every mapped agent with Teams integration on whose
Teams user no active subscription watches, since notifications already cover the
others; with reason ``outage`` every mapped, enabled agent, because after an outage of
the console (or of Graph's deliveries) what the subscriptions brought is in doubt too.
Explicit ``agent_ids`` (a lifecycle ``missed`` event, a removed subscription) are read
whether watched or not, as long as they are mapped and enabled.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import batched

from django.db.models import Q, QuerySet
from django.utils import timezone

from accounts.models import Agent, DirectoryUser
from graph.presence import MAX_IDS_PER_CALL, get_presences
from integrations.graphlink import app_graph_client, token_cache_save
from integrations.services import account_get
from presence.sync_models import Subscription
from presence.to_acd.sync import teams_presence_apply

logger = logging.getLogger(__name__)

CALLS_PER_WINDOW = 1500
WINDOW_SECONDS = 30.0
SOURCE = "reconcile"
# Reasons after which every agent is read, not only those no subscription watches.
READ_ALL_REASONS = frozenset({"outage"})


class TokenBucket:
    """At most ``capacity`` calls in any ``per`` seconds: ``take`` waits for a token."""

    def __init__(
        self,
        capacity: int = CALLS_PER_WINDOW,
        per: float = WINDOW_SECONDS,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.capacity = capacity
        self.rate = capacity / per
        self.tokens = float(capacity)
        self.clock = clock
        self.sleep = sleep
        self.updated = clock()

    def _refill(self) -> None:
        now = self.clock()
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now

    def take(self) -> None:
        """Spend one token, sleeping first when there is none."""
        self._refill()
        if self.tokens < 1:
            self.sleep((1 - self.tokens) / self.rate)
            self._refill()
        self.tokens -= 1


@dataclass
class Reconciled:
    """How a run went: agents read, Graph calls made, teams_presence_apply outcomes."""

    agents: int = 0
    calls: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    errors: int = 0


def reconcile_agents(agent_ids: list[int] | None = None, reason: str = "") -> QuerySet[Agent]:
    """The agents a reconciliation reads (see the module docstring)."""
    agents = Agent.objects.filter(
        teams_enabled=True,
        mapping__isnull=False,
        mapping__directory_user__removed_reason="",
    )
    if agent_ids is not None:
        return agents.filter(pk__in=agent_ids)
    if reason in READ_ALL_REASONS:
        return agents
    watched = DirectoryUser.objects.filter(
        subscriptions__status=Subscription.Status.ACTIVE,
        subscriptions__expires_at__gt=timezone.now(),
    )
    return agents.exclude(Q(mapping__directory_user__in=watched))


def presences_reconcile(
    *, agent_ids: list[int] | None = None, reason: str = "", bucket: TokenBucket | None = None
) -> Reconciled:
    """Read the Teams presence of the agents (650 ids a call) and pass each to
    ``teams_presence_apply(source="reconcile")``.

    Side effects: Graph calls, whatever teams_presence_apply does (AgentPresence,
    SyncRecord, ACD deliveries), the account's token cache. Raises the client's errors
    (Throttled, Unavailable: the task retries; PermissionDenied without Presence.Read.All).
    An error of one agent's apply is logged and counted; the others go on.
    """
    result = Reconciled()
    account = account_get()
    if account is None:
        return result
    agents = reconcile_agents(agent_ids, reason).select_related("mapping__directory_user")
    by_user = {agent.mapping.directory_user.graph_id: agent for agent in agents}
    by_lower = {graph_id.lower(): agent for graph_id, agent in by_user.items()}
    result.agents = len(by_user)
    bucket = bucket or TokenBucket()
    specs: dict = {}  # rule specs by id, shared across the agents of this run
    client, tokens = app_graph_client(account)
    try:
        for chunk in batched(by_user, MAX_IDS_PER_CALL):
            bucket.take()
            presences = get_presences(client, chunk)
            result.calls += 1
            observed_at = timezone.now()
            for presence in presences:
                agent = by_lower.get(presence.user_id.lower())
                if agent is None or presence.availability == "PresenceUnknown":
                    continue
                try:
                    record = teams_presence_apply(
                        agent=agent,
                        availability=presence.availability,
                        activity=presence.activity,
                        sequence=presence.sequence_number,
                        observed_at=observed_at,
                        source=SOURCE,
                        specs=specs,
                    )
                except Exception:
                    logger.exception("reconciling the presence of agent %s failed", agent.pk)
                    result.errors += 1
                    continue
                outcome = record.outcome if record is not None else "unchanged"
                result.outcomes[outcome] = result.outcomes.get(outcome, 0) + 1
    finally:
        token_cache_save(account, tokens)
    logger.info(
        "reconcile (%s): %s agents, %s calls, outcomes %s, %s errors",
        reason or "scheduled",
        result.agents,
        result.calls,
        result.outcomes,
        result.errors,
    )
    return result
