"""Teams → contact center: apply an observed Teams presence to an agent.

The webhook's task and the reconciliation call ``teams_presence_apply`` for
each presence they learn. It keeps AgentPresence current, ignores what is
older than what it already has, recognises the console's own session coming
back (echo) and a status the agent set by hand in Teams (it beats every rule,
docs/graph.md "Aggregation"), and otherwise maps the presence through the agent's
effective rule to an ACD state, which is shown in the console and delivered
to the ACD's webhook. Every decision is written to the agent's sync history.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from django.db import InterfaceError, OperationalError, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from accounts.models import Agent
from graph.presence import PREFERRED_PAIRS
from integrations.jobs import task_enqueue
from presence.models import PresenceRule
from presence.rules import core, preview, services
from presence.sync_models import AgentPresence, SyncRecord
from presence.to_acd import delivery as acd_delivery

logger = logging.getLogger(__name__)

MANUAL_ADVICE = (
    "The agent set this status by hand in Teams; it overrides every rule. Ask them to "
    "reset their status in Teams (Reset status) so ccbridge can manage it again."
)
SOURCE_NOTES = {"reconcile": "Found by reconciliation. "}
Outcome = SyncRecord.Outcome
RuleSpecs = dict[int, core.RuleSpec | None]


def _sequence_number(value: str | None) -> int | None:
    if not value or not value.isdigit():
        return None
    return int(value)


def _latency_ms(observed_at: datetime, now: datetime) -> int:
    return max(0, int((now - observed_at).total_seconds() * 1000))


def _rule_spec(rule_id: int, specs: RuleSpecs | None) -> core.RuleSpec | None:
    if specs is not None and rule_id in specs:
        return specs[rule_id]
    rule = PresenceRule.objects.filter(pk=rule_id).first()
    spec = services.rule_spec(rule) if rule is not None else None
    if specs is not None:
        specs[rule_id] = spec
    return spec


def _overtaken_by_publish(
    presence: AgentPresence, observed: tuple[str, str], observed_at: datetime, now: datetime
) -> bool:
    """True when the console published a different pair after the webhook read this one.

    Rapid ACD changes make Teams announce each of the console's own sessions; the
    announcement of an earlier one may be applied after a later setPresence. It is
    not the agent acting in Teams (it would look like a hand-set status, or bounce
    back to the ACD as a change): Teams announces the later one too.
    """
    session_active = bool(
        presence.published_availability
        and presence.session_expires_at
        and presence.session_expires_at > now
    )
    if not session_active or observed == (
        presence.published_availability,
        presence.published_activity,
    ):
        return False
    published_at = (
        SyncRecord.objects.filter(
            agent_id=presence.agent_id,
            direction=SyncRecord.Direction.TO_TEAMS,
            outcome=Outcome.APPLIED,
        )
        .order_by("-created_at")
        .values_list("created_at", flat=True)
        .first()
    )
    return published_at is not None and observed_at < published_at


def _locked_presence(agent: Agent) -> AgentPresence:
    AgentPresence.objects.get_or_create(agent=agent)
    return AgentPresence.objects.select_for_update().get(agent=agent)


def teams_presence_apply(
    *,
    agent: Agent,
    availability: str,
    activity: str,
    sequence: str | None,
    observed_at: datetime,
    source: str,
    specs: RuleSpecs | None = None,
) -> SyncRecord | None:
    """Apply a Teams presence seen for ``agent``; returns the history record written.

    - agents with Teams integration off: nothing (None);
    - the same sequenceNumber again, or the presence already known: nothing (None);
    - an older sequenceNumber (compared as numbers): ``skipped_stale``;
    - the console's own session showing: ``skipped_echo``;
    - a hand-set (preferred) pair while the console's session is active: the agent
      is marked "manual status in Teams", ``skipped_manual`` with advice;
    - the first presence seen since the agent was mapped (to this Teams user), when
      its rule keeps the ACD on mapping: recorded, ``skipped_new_mapping``;
    - else the effective rule's subscriber row → ACD state, shown in the console
      and queued to the ACD webhook (``applied``), or ``skipped_no_rule``.

    ``source`` is "notification" or "reconcile". ``specs`` caches rule specs by
    rule id across calls of one task run. Side effects: AgentPresence,
    SyncRecord, AcdDelivery rows; an ACD delivery task after commit.
    """
    if not agent.teams_enabled:
        return None
    with transaction.atomic():
        presence = _locked_presence(agent)
        now = timezone.now()
        note = SOURCE_NOTES.get(source, "")

        def record(outcome: str, detail: str, **fields: Any) -> SyncRecord:
            return SyncRecord.objects.create(
                agent=agent,
                direction=SyncRecord.Direction.TO_ACD,
                from_value=core.teams_label(availability, activity)[:100],
                latency_ms=_latency_ms(observed_at, now),
                outcome=outcome,
                detail=(note + detail)[:500],
                **fields,
            )

        mapping = getattr(agent, "mapping", None)
        # The first presence of the agent's current Teams user: what is stored belongs to
        # no user or another one, so neither its sequence nor its value compare.
        first_since_mapping = mapping is not None and presence.teams_mapping_id != mapping.pk
        new, known = _sequence_number(sequence), _sequence_number(presence.teams_sequence)
        if first_since_mapping:
            known = None
        if new is not None and known is not None:
            if new == known:
                return None  # the same notification again (Graph redelivers)
            if new < known:
                return record(
                    Outcome.SKIPPED_STALE,
                    f"Sequence {sequence} is older than the last one seen ({known}); ignored.",
                )
        observed = (availability, activity)
        if _overtaken_by_publish(presence, observed, observed_at, now):
            return record(
                Outcome.SKIPPED_STALE,
                "Teams reported this before ccbridge's latest setPresence; "
                "Teams announces the result of that one separately.",
            )
        if not first_since_mapping and observed == (
            presence.teams_availability,
            presence.teams_activity,
        ):
            if new is not None:
                presence.teams_sequence = sequence or ""
                presence.save(update_fields=["teams_sequence", "updated_at"])
            return None
        presence.teams_availability, presence.teams_activity = availability, activity
        if new is not None:
            presence.teams_sequence = sequence or ""
        presence.teams_changed_at = observed_at
        presence.teams_mapping = mapping
        fields = ["teams_availability", "teams_activity", "teams_sequence", "teams_changed_at"]
        fields += ["teams_mapping", "manual_in_teams", "updated_at"]

        session_active = bool(
            presence.published_availability
            and presence.session_expires_at
            and presence.session_expires_at > now
        )
        published = (presence.published_availability, presence.published_activity)
        if session_active and observed == published:
            presence.manual_in_teams = False
            presence.save(update_fields=fields)
            return record(
                Outcome.SKIPPED_ECHO,
                "Teams shows the status ccbridge set; nothing sent to the ACD.",
            )
        if session_active and observed in PREFERRED_PAIRS:
            presence.manual_in_teams = True
            presence.save(update_fields=fields)
            return record(Outcome.SKIPPED_MANUAL, MANUAL_ADVICE)
        presence.manual_in_teams = False

        effective = services.agent_effective_rule(agent)
        spec = _rule_spec(effective.rule.id, specs) if effective.rule else None
        if spec is None:
            presence.save(update_fields=fields)
            return record(Outcome.SKIPPED_NO_RULE, preview.describe_effective(effective))
        index = core.match_subscriber_row(spec, availability, activity)
        if index is None:
            presence.save(update_fields=fields)
            return record(
                Outcome.SKIPPED_NO_RULE,
                preview.preview_subscriber(spec, availability, activity) + ".",
                rule_name=spec.name[:100],
            )
        state, reason = core.subscriber_target(spec, availability, activity)
        if first_since_mapping and not spec.apply_on_mapping:
            presence.save(update_fields=fields)
            return record(
                Outcome.SKIPPED_NEW_MAPPING,
                f"First Teams presence since the agent was mapped: shown here, not sent to "
                f"the ACD (rule {spec.name}: on mapping, keep the ACD state). Row {index + 1} "
                f"would set {core.acd_state_label(state, reason)}; the next change will.",
                rule_name=spec.name[:100],
                row_index=index,
            )
        presence.acd_state, presence.acd_reason = str(state), reason or ""
        presence.acd_changed_at = now
        presence.save(update_fields=[*fields, "acd_state", "acd_reason", "acd_changed_at"])
        delivery = acd_delivery.delivery_queue(
            agent=agent,
            acd_state=state,
            reason_code=reason,
            availability=availability,
            activity=activity,
            occurred_at=observed_at,
            backfill=source == "reconcile",
        )
        sent = (
            f"Queued to the ACD webhook (delivery #{delivery.pk})."
            if delivery
            else "No enabled ACD webhook is configured: the console shows the state, "
            "the ACD was not told."
        )
        return record(
            Outcome.APPLIED,
            sent,
            to_value=core.acd_state_label(state, reason)[:100],
            rule_name=spec.name[:100],
            row_index=index,
        )


def _item_order(item: Mapping[str, Any]) -> tuple[str, int]:
    # Oldest first per user, so a batch holding two changes ends on the newer one.
    sequence = _sequence_number(item.get("sequence"))
    return str(item.get("user_id")), sequence if sequence is not None else -1


def notifications_apply(items: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """Apply the presence changes the webhook verified (the task's body).

    Items: ``{"subscription", "user_id", "availability", "activity", "sequence",
    "observed_at"}``; ``availability`` None means Graph said the user changed
    without the values, so the agent is reconciled instead. Users not mapped to
    an agent are ignored. Returns counts by outcome.
    """
    items = sorted((i for i in items if isinstance(i, Mapping)), key=_item_order)
    user_ids = {str(i.get("user_id", "")).lower() for i in items}
    agents = {
        agent.mapping.directory_user.graph_id.lower(): agent
        for agent in Agent.objects.filter(
            mapping__directory_user__graph_id__in=user_ids
        ).select_related("mapping__directory_user")
    }
    counts: dict[str, int] = {}
    specs: RuleSpecs = {}
    to_reconcile: list[int] = []
    for item in items:
        agent = agents.get(str(item.get("user_id", "")).lower())
        if agent is None:
            counts["unmapped"] = counts.get("unmapped", 0) + 1
            continue
        if item.get("availability") is None:
            if agent.teams_enabled:
                to_reconcile.append(agent.pk)
            continue
        observed_at = parse_datetime(str(item.get("observed_at") or "")) or timezone.now()
        try:
            result = teams_presence_apply(
                agent=agent,
                availability=str(item["availability"]),
                activity=str(item.get("activity") or ""),
                sequence=item.get("sequence"),
                observed_at=observed_at,
                source="notification",
                specs=specs,
            )
        except (OperationalError, InterfaceError):
            raise  # the database is away: the task retries the whole (idempotent) batch
        except Exception:
            # One agent's trouble must not cost the others their change.
            logger.exception("applying a Teams presence to agent %s failed", agent.pk)
            counts["errors"] = counts.get("errors", 0) + 1
            continue
        key = result.outcome if result is not None else "unchanged"
        counts[key] = counts.get(key, 0) + 1
    if to_reconcile:
        _reconcile(sorted(set(to_reconcile)))
        counts["reconcile"] = len(set(to_reconcile))
    return counts


def _reconcile(agent_ids: list[int]) -> None:
    task_enqueue(
        "presence.to_acd.reconcile",
        kwargs={"agent_ids": agent_ids, "reason": "notification without presence"},
    )
