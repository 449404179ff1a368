"""The preview's sentences: what a rule does to Teams or the ACD, in words, and
where an agent's rule comes from. Built on presence/rules/core.py's matching, so
what the preview says is what the engine does. No ORM and no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta

from presence.rules.core import (
    _PUBLISHING,
    _SUBSCRIBING,
    AcdState,
    ClearPresence,
    Effective,
    RuleSpec,
    Source,
    acd_state_label,
    publisher_action,
    subscriber_target,
    teams_label,
)


def _duration_words(duration: timedelta) -> str:
    hours, rest = divmod(int(duration.total_seconds()), 3600)
    minutes, seconds = divmod(rest, 60)
    parts = [
        f"{count} {unit}{'' if count == 1 else 's'}"
        for count, unit in ((hours, "hour"), (minutes, "minute"), (seconds, "second"))
        if count
    ]
    return " ".join(parts) or "0 seconds"


def preview_publisher(
    spec: RuleSpec,
    acd_state: AcdState,
    reason_code: str | None = None,
    *,
    reason_labels: Mapping[str, str] | None = None,
) -> str:
    """What the rule does to Teams when the agent enters this ACD state, in words."""
    if spec.direction not in _PUBLISHING:
        return "This rule does not publish to Teams: Teams presence is left as it is"
    action = publisher_action(spec, acd_state, reason_code)
    if action is None:
        label = acd_state_label(acd_state, reason_code, reason_labels=reason_labels)
        return f"No row for {label}: Teams presence is left as it is"
    if isinstance(action, ClearPresence):
        return "Clear ccbridge's presence session"
    pair = teams_label(action.availability, action.activity)
    return f"Set Teams presence to {pair} for {_duration_words(action.session)}"


def preview_subscriber(
    spec: RuleSpec,
    availability: str,
    activity: str,
    *,
    reason_labels: Mapping[str, str] | None = None,
) -> str:
    """What the rule does to the ACD when Teams shows this presence, in words."""
    if spec.direction not in _SUBSCRIBING:
        return "This rule does not follow Teams: the ACD state is left as it is"
    target = subscriber_target(spec, availability, activity)
    if target is None:
        return f"No row for {teams_label(availability, activity)}: the ACD state is left as it is"
    state, reason = target
    return f"ACD state {acd_state_label(state, reason, reason_labels=reason_labels)}"


def internal_call_note() -> str:
    """Why an internal call changes nothing: the engine drops them before any rule."""
    return "Agent-to-agent (internal) calls never trigger rules."


def describe_effective(effective: Effective) -> str:
    """Where the agent's rule comes from, for the effective-rule screen."""
    if effective.source == Source.AGENT and effective.rule:
        return f"{effective.rule.name}: the agent's own rule."
    if effective.source == Source.TEAM and effective.rule:
        return f"{effective.rule.name}: from team {effective.team_name}."
    if effective.source == Source.CONFLICT:
        names = sorted({team.team_name for team in effective.conflict})
        teams = ", ".join(names[:-1]) + f" and {names[-1]}" if len(names) > 1 else "".join(names)
        return (
            f"No rule: teams {teams} have different rules and no priority settles it. "
            "Give one team a better (lower) priority, or give the agent its own rule."
        )
    return "No rule: neither the agent nor its teams have one, so presence is not synced."
