"""Contact center → Teams: apply each agent's newest ACD event to its Teams presence.

The worker takes an agent's unprocessed events, lets the newest one win (an
event older than the one already applied never does), picks the Teams action
from the agent's effective rule, and calls setPresence with the app's own
session or clearPresence. Every outcome leaves a SyncRecord.

Per-agent claim: the agent's AgentPresence row is locked with
``SELECT … FOR UPDATE SKIP LOCKED`` for the whole step, Graph call included, so
two workers never publish for the same agent at once and the one that finds
the row locked hands the agent back to the queue (``AgentsApplied.busy``).
The lock is taken before any write, so on SQLite (no row locks; one writer)
the database is held only for the writes after the Graph call.

docs/graph.md, "Presence": setPresence takes sessionId = the app's client id and an
expiration from PT5M to PT4H; clearPresence answers 404 when there is no
session, which here means "already clear".
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import InterfaceError, OperationalError, transaction
from django.utils import timezone

from accounts.models import Agent, AgentMapping
from graph.errors import GraphError, NotFound
from graph.presence import clear_presence, set_presence
from integrations.graphlink import app_graph_client, graph_config, token_cache_save
from integrations.models import IntegrationAccount
from integrations.services import account_get
from presence.models import PresenceRule
from presence.rules import core, preview
from presence.rules.services import agent_effective_rule, rule_spec
from presence.sync_models import AgentEvent, AgentPresence, SyncRecord
from presence.to_acd.sync import MANUAL_ADVICE
from presence.to_teams.pending_events import pending_events_read

logger = logging.getLogger(__name__)

Outcome = SyncRecord.Outcome
TO_TEAMS = SyncRecord.Direction.TO_TEAMS

# A session is renewed when it has this long left, or half its length if that is shorter
# (a 5-minute session would otherwise be renewed every minute).
REFRESH_WINDOW = timedelta(minutes=10)
CLEARED = "Cleared (no ccbridge session)"


class TeamsPublisher:
    """setPresence/clearPresence for the integration account's app.

    One per worker process and account, reused by every task: building a Graph
    client costs an OpenID discovery request, a token from the cache and a new TLS
    connection, which was most of an event's time when every task built its own.
    """

    _current: tuple[tuple, TeamsPublisher] | None = None
    _lock = threading.Lock()

    def __init__(self, account: IntegrationAccount):
        self.account = account
        self.session_id = account.client_id.strip()
        self.client, self.tokens = app_graph_client(account)

    @classmethod
    def for_account(cls) -> TeamsPublisher | None:
        """The publisher for the current account (a new one when the account, its app or
        its secret changed); None without an account."""
        account = account_get()
        if account is None:
            return None
        identity = (
            account.pk, account.tenant, account.client_id, account.client_secret,
            graph_config(),
        )  # fmt: skip
        with cls._lock:
            if cls._current is None or cls._current[0] != identity:
                cls._current = (identity, cls(account))
            return cls._current[1]

    def set(self, user_id: str, action: core.SetPresence) -> None:
        """Raises InvalidPresence for a pair Graph refuses, and the client's errors."""
        set_presence(
            self.client,
            user_id,
            session_id=self.session_id,
            availability=action.availability,
            activity=action.activity,
            expiration=action.session,
        )

    def clear(self, user_id: str) -> bool:
        """End the app's session; False when there was none (404: already clear)."""
        try:
            clear_presence(self.client, user_id, session_id=self.session_id)
        except NotFound:
            return False
        return True

    def close(self) -> None:
        """Store the token cache (encrypted) so the next task reuses the token."""
        token_cache_save(self.account, self.tokens)


@dataclass
class AgentsApplied:
    """What one pass over some agents left to do: agents another worker held (`busy`),
    and agents whose Graph call failed in a way that may heal (`transient`). Agents whose
    step failed otherwise (`failed`) have their pending events recorded as failed."""

    done: list[int] = field(default_factory=list)
    busy: list[int] = field(default_factory=list)
    transient: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    error: GraphError | None = None

    @property
    def retry_after(self) -> float | None:
        return getattr(self.error, "retry_after", None)


class AgentBusy(Exception):
    """Another worker holds the agent's claim right now."""


def agents_apply(*, agent_ids: list[int], give_up: bool = False) -> AgentsApplied:
    """Apply the newest unprocessed ACD event of each agent to Teams.

    Side effects: Graph calls, AgentPresence updates, SyncRecords, processed_at on the
    events. A transient Graph error (throttled, unavailable) leaves that agent's events
    unprocessed and lists the agent in ``transient``, unless ``give_up`` (the last
    attempt), when it is recorded as failed like any other error. Any other error fails
    that agent alone (see _agent_step_failed). Raises only a lost database connection.
    """
    result = AgentsApplied()
    publisher = TeamsPublisher.for_account()
    try:
        for agent_id in dict.fromkeys(agent_ids):
            try:
                agent_events_apply(agent_id=agent_id, publisher=publisher, give_up=give_up)
            except AgentBusy:
                result.busy.append(agent_id)
            except GraphError as exc:
                result.transient.append(agent_id)
                result.error = exc
            except (OperationalError, InterfaceError):
                raise  # the task retries the whole batch once the database is back
            except Exception as exc:
                # One agent's bad data must not hold back the agents after it in the batch.
                logger.exception("applying the ACD events of agent %s failed", agent_id)
                _agent_step_failed(agent_id, exc)
                result.failed.append(agent_id)
            else:
                result.done.append(agent_id)
    finally:
        if publisher is not None:
            publisher.close()
    return result


def _agent_step_failed(agent_id: int, exc: Exception) -> None:
    """Record the agent's pending events as failed, so the stranded-event requeue does not
    run into the same error every minute; its next event is tried afresh. Raises only a
    lost database connection: if even this fails, the requeue tries the agent again."""
    try:
        _pending_recorded_failed(agent_id, exc)
    except (OperationalError, InterfaceError):
        raise
    except Exception:
        logger.exception("recording the failure of agent %s failed too", agent_id)


def _pending_recorded_failed(agent_id: int, exc: Exception) -> None:
    with transaction.atomic():
        pending = AgentEvent.objects.filter(agent_id=agent_id, processed_at__isnull=True)
        rows = list(pending.order_by("-sequence").values_list("pk", "sequence", "state"))
        if not rows:
            return
        AgentEvent.objects.filter(pk__in=[pk for pk, _, _ in rows]).update(
            processed_at=timezone.now()
        )
        _pk, sequence, state = rows[0]
        _record(
            agent_id,
            None,
            Outcome.FAILED,
            from_value=state,
            detail=f"Event #{sequence} ({state}) could not be applied: {type(exc).__name__}: "
            f"{exc}. The error was logged; the agent's next event is tried afresh.",
        )


def _claim(agent_id: int) -> AgentPresence:
    """Lock the agent's presence row for this transaction. Raises AgentBusy."""
    presence = AgentPresence.objects.select_for_update(skip_locked=True).filter(agent_id=agent_id)
    claimed = presence.first()
    if claimed is None:
        raise AgentBusy(agent_id)
    return claimed


def _ensure_presence(agent_id: int) -> bool:
    """Make sure the agent has a presence row; False when the agent no longer exists."""
    if AgentPresence.objects.filter(agent_id=agent_id).exists():
        return True  # every event after an agent's first: one query
    if not Agent.objects.filter(pk=agent_id).exists():
        return False
    AgentPresence.objects.get_or_create(agent_id=agent_id)
    return True


def agent_events_apply(
    *, agent_id: int, publisher: TeamsPublisher | None, give_up: bool = False
) -> None:
    """Apply one agent's newest unprocessed event (see the module docstring).

    Raises AgentBusy when another worker holds the agent, and a retryable GraphError
    (nothing recorded, events left for the retry) unless ``give_up``.
    """
    if not _ensure_presence(agent_id):
        return
    with transaction.atomic():
        presence = _claim(agent_id)
        events, unreadable = pending_events_read(agent_id=agent_id)
        for broken in unreadable:
            _record(agent_id, broken.event, Outcome.FAILED, detail=broken.reason)
        done = [e.pk for e in events] + [broken.event.pk for broken in unreadable]
        if not events:
            AgentEvent.objects.filter(pk__in=done).update(processed_at=timezone.now())
            return
        now = timezone.now()
        applied = presence.acd_sequence
        stale = [e for e in events if applied is not None and e.sequence <= applied]
        for event in stale:
            _record(
                agent_id,
                event,
                Outcome.SKIPPED_STALE,
                detail=f"Event #{event.sequence} arrived after #{applied} had been applied; "
                "an older event never wins.",
            )
        newest = events[0]
        if newest not in stale:
            _apply(presence, newest, publisher, give_up=give_up)
        # Events older than the newest were overtaken before they could be applied.
        AgentEvent.objects.filter(pk__in=done).update(processed_at=now)


def _record(
    agent_id: int,
    event: AgentEvent | None,
    outcome: str,
    *,
    to_value: str = "",
    rule_name: str = "",
    row_index: int | None = None,
    detail: str = "",
    finished_at: datetime | None = None,
    from_value: str | None = None,
) -> SyncRecord:
    latency = None
    if event is not None and finished_at is not None:
        latency = max(0, round((finished_at - event.received_at).total_seconds() * 1000))
    if from_value is None and event is not None:
        from_value = core.acd_state_label(event.state, event.reason_code or None)
    return SyncRecord.objects.create(
        agent_id=agent_id,
        direction=TO_TEAMS,
        from_value=(from_value or "")[:100],
        to_value=to_value[:100],
        rule_name=rule_name[:100],
        row_index=row_index,
        latency_ms=latency,
        outcome=outcome,
        detail=detail[:500],
    )


def _teams_user_id(agent: Agent) -> str:
    """The Graph id to publish to; "" when the agent is not synced (Teams integration off,
    not mapped, or its Teams user removed from the directory)."""
    if not agent.teams_enabled:
        return ""
    try:
        user = agent.mapping.directory_user
    except AgentMapping.DoesNotExist:
        return ""
    return "" if user.is_removed else user.graph_id


def _publisher_action(
    agent: Agent, state: str, reason: str
) -> tuple[PresenceRule | None, int | None, core.TeamsAction | None, str]:
    """(rule, row index, action, why there is none) for this ACD state."""
    effective = agent_effective_rule(agent)
    if effective.rule is None:
        return None, None, None, preview.describe_effective(effective)
    rule = PresenceRule.objects.get(pk=effective.rule.id)
    spec = rule_spec(rule)
    index = core.match_publisher_row(spec, core.AcdState(state), reason or None)
    if index is None:
        return (
            rule,
            None,
            None,
            preview.preview_publisher(spec, core.AcdState(state), reason or None),
        )
    return rule, index, spec.publisher_rows[index].action, ""


def _apply(
    presence: AgentPresence,
    event: AgentEvent,
    publisher: TeamsPublisher | None,
    *,
    give_up: bool,
) -> None:
    agent = Agent.objects.select_related("mapping__directory_user").get(pk=presence.agent_id)
    presence.acd_state = event.state
    presence.acd_reason = event.reason_code
    presence.acd_sequence = event.sequence
    presence.acd_changed_at = event.occurred_at
    fields = ["acd_state", "acd_reason", "acd_sequence", "acd_changed_at", "updated_at"]

    def skip(outcome: str, detail: str, **extra) -> None:
        presence.save(update_fields=fields)
        _record(agent.pk, event, outcome, detail=detail, **extra)

    if event.interaction == AgentEvent.Interaction.INTERNAL:
        return skip(Outcome.SKIPPED_INTERNAL, preview.internal_call_note())
    user_id = _teams_user_id(agent)
    if not user_id:
        # Not synced at all: the board still shows the ACD side.
        presence.save(update_fields=fields)
        return None
    if presence.manual_in_teams:
        return skip(Outcome.SKIPPED_MANUAL, MANUAL_ADVICE)
    rule, index, action, why_not = _publisher_action(agent, event.state, event.reason_code)
    rule_name = rule.name if rule else ""
    if action is None:
        return skip(Outcome.SKIPPED_NO_RULE, why_not, rule_name=rule_name)
    row = {"rule_name": rule_name, "row_index": index}
    if publisher is None:
        return skip(Outcome.FAILED, "There is no Teams integration account.", **row)
    try:
        if isinstance(action, core.SetPresence):
            publisher.set(user_id, action)
        else:
            had_session = publisher.clear(user_id)
    except GraphError as exc:
        if exc.retryable and not give_up:
            raise
        logger.warning("setPresence for agent %s failed: %s", agent.pk, exc)
        return skip(Outcome.FAILED, str(exc), **row)
    finished = timezone.now()
    if isinstance(action, core.SetPresence):
        presence.published_availability = action.availability
        presence.published_activity = action.activity
        presence.session_expires_at = finished + action.session
        to_value = core.teams_label(action.availability, action.activity)
        detail = f"Session of {core.format_session(action.session)}."
    else:
        presence.published_availability = presence.published_activity = ""
        presence.session_expires_at = None
        to_value = CLEARED
        detail = "Session cleared." if had_session else "There was no session: already clear."
    fields += ["published_availability", "published_activity", "session_expires_at"]
    presence.save(update_fields=fields)
    _record(
        agent.pk, event, Outcome.APPLIED, to_value=to_value, detail=detail, finished_at=finished,
        **row,
    )  # fmt: skip
    return None


# --- Long-held states: renew the session before Teams drops it ---------------------------


def _refresh_due(presence: AgentPresence, session: timedelta, now: datetime) -> bool:
    window = min(REFRESH_WINDOW, session / 2)
    expires = presence.session_expires_at
    return expires is not None and expires - now <= window


def sessions_refresh(*, now: datetime | None = None) -> int:
    """Send setPresence again for agents whose published session ends within the refresh
    window while their ACD state still maps to the same pair. Returns how many were renewed.

    Side effects: Graph calls, AgentPresence.session_expires_at, an applied SyncRecord
    per renewal. Agents another worker holds are left for the next run; Graph errors
    are logged and left for the next run too (the beat runs every minute).
    """
    now = now or timezone.now()
    due = list(
        AgentPresence.objects.filter(
            session_expires_at__lte=now + REFRESH_WINDOW,
            manual_in_teams=False,
            agent__teams_enabled=True,
            agent__mapping__isnull=False,
        )
        .exclude(published_availability="")
        .values_list("agent_id", flat=True)
    )
    if not due:
        return 0
    publisher = TeamsPublisher.for_account()
    if publisher is None:
        return 0
    renewed = 0
    try:
        for agent_id in due:
            try:
                renewed += _session_refresh(agent_id, publisher, now)
            except AgentBusy:
                continue
            except GraphError as exc:
                logger.warning(
                    "renewing the presence session of agent %s failed: %s", agent_id, exc
                )
            except (OperationalError, InterfaceError):
                raise
            except Exception:
                # The other agents' sessions still need renewing.
                logger.exception("renewing the presence session of agent %s failed", agent_id)
    finally:
        publisher.close()
    return renewed


def _published_event(agent_id: int) -> AgentEvent | None:
    """The event whose action Teams shows: the newest processed one that was not an
    internal call (an internal call leaves the earlier session in place)."""
    return (
        AgentEvent.objects.filter(agent_id=agent_id, processed_at__isnull=False)
        .exclude(interaction=AgentEvent.Interaction.INTERNAL)
        .order_by("-sequence")
        # Not needed here, and a failed event's may be a time that cannot be read back.
        .defer("occurred_at")
        .first()
    )


def _session_lapsed(presence: AgentPresence, now: datetime) -> None:
    """Forget a session Teams has already dropped, so the board stops showing it and
    later runs stop looking at it."""
    if presence.session_expires_at is not None and presence.session_expires_at <= now:
        presence.published_availability = presence.published_activity = ""
        presence.session_expires_at = None
        presence.save(
            update_fields=[
                "published_availability", "published_activity", "session_expires_at",
                "updated_at",
            ]
        )  # fmt: skip


def _session_refresh(agent_id: int, publisher: TeamsPublisher, now: datetime) -> bool:
    with transaction.atomic():
        presence = _claim(agent_id)
        event = _published_event(agent_id)
        if presence.manual_in_teams or not presence.published_availability or event is None:
            return False
        agent = Agent.objects.select_related("mapping__directory_user").get(pk=agent_id)
        user_id = _teams_user_id(agent)
        if not user_id:
            return False
        rule, index, action, _why = _publisher_action(agent, event.state, event.reason_code)
        published = (presence.published_availability, presence.published_activity)
        if not isinstance(action, core.SetPresence) or (
            (action.availability, action.activity) != published
        ):
            # The rule changed since: the next ACD event publishes afresh.
            _session_lapsed(presence, now)
            return False
        if not _refresh_due(presence, action.session, now):
            return False
        publisher.set(user_id, action)
        finished = timezone.now()
        presence.session_expires_at = finished + action.session
        presence.save(update_fields=["session_expires_at", "updated_at"])
        _record(
            agent_id,
            None,
            Outcome.APPLIED,
            from_value=core.acd_state_label(event.state, event.reason_code or None),
            to_value=core.teams_label(action.availability, action.activity),
            rule_name=rule.name if rule else "",
            row_index=index,
            detail=f"Session renewed before it expired ({core.format_session(action.session)}).",
        )
        return True
