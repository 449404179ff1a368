"""Presence rules as plain data: validation, row matching, the effective rule and
the labels for states and presences. The sync engine and the console's preview
(presence/rules/preview.py) call the same functions, so what the preview says is
what the engine does.

No ORM and no I/O: the services turn model rows into these dataclasses.
docs/graph.md, "Presence": setPresence accepts five availability/activity pairs and a
session from PT5M to PT4H; the value tables live in graph.presence.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from graph.presence import (
    ACTIVITIES,
    AVAILABILITIES,
    MAX_EXPIRATION,
    MIN_EXPIRATION,
    SETTABLE_PAIRS,
    format_duration,
)


class AcdState(StrEnum):
    """The contact-center states every business unit has (values match the models)."""

    AVAILABLE = "available"
    UNAVAILABLE = "unavailable"
    WORKING = "working"
    WRAP_UP = "wrap_up"
    LOGGED_OUT = "logged_out"


ACD_STATE_LABELS: Mapping[str, str] = {
    AcdState.AVAILABLE: "Available",
    AcdState.UNAVAILABLE: "Unavailable",
    AcdState.WORKING: "Working (on a call)",
    AcdState.WRAP_UP: "Wrap-up",
    AcdState.LOGGED_OUT: "Logged out",
}


class Direction(StrEnum):
    """Which way a rule syncs: contact center → Teams, Teams → contact center, or both."""

    # The values are what PresenceRule.direction stores, so they keep their first names.
    TO_TEAMS = "publisher"
    TO_ACD = "subscriber"
    BOTH = "both"


_PUBLISHING = (Direction.TO_TEAMS, Direction.BOTH)
_SUBSCRIBING = (Direction.TO_ACD, Direction.BOTH)


@dataclass(frozen=True)
class SetPresence:
    """Set the app's presence session to this pair for this long."""

    availability: str
    activity: str
    session: timedelta


@dataclass(frozen=True)
class ClearPresence:
    """End the app's presence session; Teams falls back to the user's other sources."""


TeamsAction = SetPresence | ClearPresence


@dataclass(frozen=True)
class PublisherRow:
    """ACD state (with a reason code, or any reason when None) → a Teams action."""

    acd_state: AcdState
    reason_code: str | None
    action: TeamsAction


@dataclass(frozen=True)
class SubscriberRow:
    """Teams availability (with an activity, or any activity when None) → an ACD state."""

    availability: str
    activity: str | None
    acd_state: AcdState
    reason_code: str | None


@dataclass(frozen=True)
class RuleSpec:
    """A rule as the engine sees it: rows in the order the admin arranged them."""

    name: str
    direction: Direction
    publisher_rows: tuple[PublisherRow, ...] = ()
    subscriber_rows: tuple[SubscriberRow, ...] = ()
    # Whether the first Teams presence of a newly mapped agent goes to the ACD too.
    apply_on_mapping: bool = False


@dataclass(frozen=True)
class RuleProblem:
    """Why a rule cannot be saved; ``field`` is a path such as ``publisher_rows[2].action``."""

    field: str
    row: int | None
    message: str


def _pairs_sentence() -> str:
    pairs = [f"{availability}/{activity}" for availability, activity in SETTABLE_PAIRS]
    return f"Teams only lets an app set {', '.join(pairs[:-1])} or {pairs[-1]}."


SETTABLE_PAIRS_SENTENCE = _pairs_sentence()


def format_session(session: timedelta) -> str:
    """ISO-8601 duration for a session, as Graph's ``expirationDuration`` takes it: ``PT4H``."""
    return format_duration(session)


def _reason(code: object) -> str | None:
    """A blank reason code means "any reason", as an empty form field does."""
    return code if isinstance(code, str) and code else None


def _activity(activity: object) -> str | None:
    """A blank activity is the wildcard, as in the models (``activity or '*'``)."""
    return activity if isinstance(activity, str) and activity else None


def _state(value: object) -> AcdState | None:
    try:
        return AcdState(value)
    except ValueError:
        return None


# Validation ------------------------------------------------------------------


def validate_rule(
    spec: RuleSpec, *, known_reason_codes: Collection[str] | None = None
) -> list[RuleProblem]:
    """Every reason the rule cannot be saved, in field order; empty when it is valid.

    Checks the name, the direction against the rows present, each row (pairs
    Teams cannot set, sessions outside PT5M..PT4H, values Graph never sends,
    reason codes) and rows that would match the same input. Never raises: a
    malformed value becomes a problem. ``known_reason_codes`` (the business
    unit's catalogue), when given, refuses any other code.
    """
    problems: list[RuleProblem] = []
    if not isinstance(spec.name, str) or not spec.name.strip():
        problems.append(RuleProblem("name", None, "Give the rule a name."))
    problems += _direction_problems(spec)
    problems += _publisher_problems(spec.publisher_rows, known_reason_codes)
    problems += _subscriber_problems(spec.subscriber_rows, known_reason_codes)
    return problems


def _direction_problems(spec: RuleSpec) -> list[RuleProblem]:
    try:
        direction = Direction(spec.direction)
    except ValueError:
        return [RuleProblem("direction", None, "Choose the direction the rule syncs.")]
    has_publisher, has_subscriber = bool(spec.publisher_rows), bool(spec.subscriber_rows)
    problems = []
    if direction == Direction.TO_ACD and has_publisher:
        problems.append(
            RuleProblem(
                "publisher_rows",
                None,
                "A Teams → contact center rule cannot have contact center → Teams rows; "
                "remove them or make the rule two-way.",
            )
        )
    if direction == Direction.TO_TEAMS and has_subscriber:
        problems.append(
            RuleProblem(
                "subscriber_rows",
                None,
                "A contact center → Teams rule cannot have Teams → contact center rows; "
                "remove them or make the rule two-way.",
            )
        )
    if direction in _PUBLISHING and not has_publisher:
        problems.append(
            RuleProblem("publisher_rows", None, "Add at least one contact center → Teams row.")
        )
    if direction in _SUBSCRIBING and not has_subscriber:
        problems.append(
            RuleProblem("subscriber_rows", None, "Add at least one Teams → contact center row.")
        )
    return problems


def _reason_problems(
    path: str, index: int, state: AcdState | None, code: object, known: Collection[str] | None
) -> list[RuleProblem]:
    if code is not None and not isinstance(code, str):
        return [RuleProblem(f"{path}.reason_code", index, "A reason code must be text.")]
    reason = _reason(code)
    if reason is None or state is None:
        return []
    if state != AcdState.UNAVAILABLE:
        return [
            RuleProblem(
                f"{path}.reason_code",
                index,
                f"Only Unavailable takes a reason code; {ACD_STATE_LABELS[state]} cannot.",
            )
        ]
    if known is not None and reason not in known:
        return [
            RuleProblem(
                f"{path}.reason_code",
                index,
                f"{reason!r} is not one of this business unit's reason codes.",
            )
        ]
    return []


def _state_problems(path: str, index: int, value: object) -> list[RuleProblem]:
    if _state(value) is not None:
        return []
    return [RuleProblem(f"{path}.acd_state", index, f"{value!r} is not an ACD state.")]


def _action_problems(path: str, index: int, action: object) -> list[RuleProblem]:
    if isinstance(action, ClearPresence):
        return []
    if not isinstance(action, SetPresence):
        return [RuleProblem(f"{path}.action", index, "Choose to set or clear Teams presence.")]
    problems = []
    if (action.availability, action.activity) not in SETTABLE_PAIRS:
        problems.append(
            RuleProblem(
                f"{path}.action",
                index,
                f"{action.availability}/{action.activity} cannot be set: {SETTABLE_PAIRS_SENTENCE}",
            )
        )
    session = action.session
    if not isinstance(session, timedelta):
        problems.append(
            RuleProblem(
                f"{path}.action.session",
                index,
                "The session must be a duration from 5 minutes to 4 hours (PT5M to PT4H).",
            )
        )
    elif not MIN_EXPIRATION <= session <= MAX_EXPIRATION:
        shown = format_session(session) if session > timedelta(0) else "zero or less"
        verdict = "too short" if session < MIN_EXPIRATION else "too long"
        problems.append(
            RuleProblem(
                f"{path}.action.session",
                index,
                "Teams keeps an app's presence session from 5 minutes to 4 hours "
                f"(PT5M to PT4H); {shown} is {verdict}.",
            )
        )
    return problems


def _publisher_problems(
    rows: Sequence[PublisherRow], known: Collection[str] | None
) -> list[RuleProblem]:
    problems: list[RuleProblem] = []
    seen: set[tuple[AcdState, str | None]] = set()
    for index, row in enumerate(rows):
        path = f"publisher_rows[{index}]"
        if not isinstance(row, PublisherRow):
            problems.append(RuleProblem(path, index, "Not a contact center → Teams row."))
            continue
        state = _state(row.acd_state)
        problems += _state_problems(path, index, row.acd_state)
        problems += _reason_problems(path, index, state, row.reason_code, known)
        problems += _action_problems(path, index, row.action)
        if state is None or not isinstance(row.reason_code, str | None):
            continue
        key = (state, _reason(row.reason_code))
        if key in seen:
            label = acd_state_label(state, key[1])
            problems.append(
                RuleProblem(
                    path,
                    index,
                    f"Another row already covers {label}; keep one row per state and reason.",
                )
            )
        seen.add(key)
    return problems


def _graph_value_problems(path: str, index: int, row: SubscriberRow) -> list[RuleProblem]:
    problems = []
    if row.availability not in AVAILABILITIES:
        problems.append(
            RuleProblem(
                f"{path}.availability",
                index,
                f"{row.availability!r} is not a Teams availability; "
                f"Graph sends only {', '.join(AVAILABILITIES)}.",
            )
        )
    activity = _activity(row.activity)
    if activity is not None and activity not in ACTIVITIES:
        problems.append(
            RuleProblem(
                f"{path}.activity",
                index,
                f"{activity!r} is not a Teams activity; Graph sends only {', '.join(ACTIVITIES)}.",
            )
        )
    elif row.activity is not None and not isinstance(row.activity, str):
        problems.append(RuleProblem(f"{path}.activity", index, "An activity must be text."))
    return problems


def _subscriber_problems(
    rows: Sequence[SubscriberRow], known: Collection[str] | None
) -> list[RuleProblem]:
    problems: list[RuleProblem] = []
    seen: set[tuple[str, str | None]] = set()
    for index, row in enumerate(rows):
        path = f"subscriber_rows[{index}]"
        if not isinstance(row, SubscriberRow):
            problems.append(RuleProblem(path, index, "Not a Teams → contact center row."))
            continue
        value_problems = _graph_value_problems(path, index, row)
        problems += value_problems
        problems += _state_problems(path, index, row.acd_state)
        problems += _reason_problems(path, index, _state(row.acd_state), row.reason_code, known)
        if value_problems:
            continue
        key = (row.availability, _activity(row.activity))
        if key in seen:
            problems.append(
                RuleProblem(
                    path,
                    index,
                    f"Another row already maps {teams_label(*key)}; "
                    "each Teams presence can lead to one ACD state.",
                )
            )
        seen.add(key)
    return problems


# Matching --------------------------------------------------------------------


def match_publisher_row(
    spec: RuleSpec, acd_state: AcdState, reason_code: str | None = None
) -> int | None:
    """Index of the publisher row for this ACD state, or None (no row, or the rule
    does not publish). A row with the agent's reason code wins over the plain
    row for the state, which covers any or no reason; the first row wins a tie."""
    if spec.direction not in _PUBLISHING:
        return None
    reason = _reason(reason_code)
    plain = None
    for index, row in enumerate(spec.publisher_rows):
        if row.acd_state != acd_state:
            continue
        row_reason = _reason(row.reason_code)
        if reason is not None and row_reason == reason:
            return index
        if row_reason is None and plain is None:
            plain = index
    return plain


def publisher_action(
    spec: RuleSpec, acd_state: AcdState, reason_code: str | None = None
) -> TeamsAction | None:
    """What Teams should show for this ACD state, or None to leave Teams alone.
    For a rule ``validate_rule`` accepts, a SetPresence is always settable."""
    index = match_publisher_row(spec, acd_state, reason_code)
    return None if index is None else spec.publisher_rows[index].action


def match_subscriber_row(spec: RuleSpec, availability: str, activity: str) -> int | None:
    """Index of the subscriber row for this Teams presence, or None (no row, or the
    rule does not subscribe). The row naming the exact activity wins over the
    availability's wildcard row, wherever each sits; the first row wins a tie."""
    if spec.direction not in _SUBSCRIBING:
        return None
    wildcard = None
    for index, row in enumerate(spec.subscriber_rows):
        if row.availability != availability:
            continue
        row_activity = _activity(row.activity)
        if row_activity is not None and row_activity == activity:
            return index
        if row_activity is None and wildcard is None:
            wildcard = index
    return wildcard


def subscriber_target(
    spec: RuleSpec, availability: str, activity: str
) -> tuple[AcdState, str | None] | None:
    """The ACD state (and reason code) for this Teams presence, or None to leave
    the ACD alone. Raises ValueError only for a row ``validate_rule`` refuses."""
    index = match_subscriber_row(spec, availability, activity)
    if index is None:
        return None
    row = spec.subscriber_rows[index]
    return AcdState(row.acd_state), _reason(row.reason_code)


# Effective rule --------------------------------------------------------------


class Source(StrEnum):
    """Where an agent's effective rule comes from."""

    AGENT = "agent"
    TEAM = "team"
    NONE = "none"
    CONFLICT = "conflict"


@dataclass(frozen=True)
class RuleRef:
    id: int
    name: str


@dataclass(frozen=True)
class TeamRule:
    """One of the agent's teams and its rule; a lower priority number wins."""

    team_id: int
    team_name: str
    rule: RuleRef
    priority: int | None


@dataclass(frozen=True)
class Effective:
    """The rule that applies to an agent, where it comes from, and any conflict."""

    rule: RuleRef | None
    source: Source
    team_id: int | None = None
    team_name: str | None = None
    conflict: tuple[TeamRule, ...] = ()


def _team_order(team: TeamRule) -> tuple[bool, int, str, str, int, int, str]:
    # Every field takes part, so the order (and the answer) never depends on input order.
    priority = team.priority if team.priority is not None else 0
    name = team.team_name
    return (team.priority is None, priority, name.casefold(), name, team.team_id, *_rule_key(team))


def _rule_key(team: TeamRule) -> tuple[int, str]:
    return team.rule.id, team.rule.name


def _from_team(team: TeamRule) -> Effective:
    return Effective(team.rule, Source.TEAM, team.team_id, team.team_name)


def effective_rule(agent_rule: RuleRef | None, team_rules: Sequence[TeamRule]) -> Effective:
    """The agent's rule and its source, the same for any order of ``team_rules``.

    The agent's own rule wins. Otherwise, when every team points at one rule,
    that rule (reported with the first team by priority, then name). Otherwise
    the rule of the teams with the best priority, provided they agree; a team
    with a priority beats one without. Otherwise CONFLICT, no rule, and the
    disagreeing teams (those tied at the best priority, or all when none has one).
    """
    if agent_rule is not None:
        return Effective(agent_rule, Source.AGENT)
    ordered = sorted(team_rules, key=_team_order)
    if not ordered:
        return Effective(None, Source.NONE)
    best = ordered[0].priority
    leaders = [team for team in ordered if team.priority == best]
    if len({team.rule.id for team in leaders}) == 1:
        return _from_team(leaders[0])
    return Effective(None, Source.CONFLICT, conflict=tuple(leaders))


# Labels, also used in validation messages --------------------------------


def _reason_label(code: str, reason_labels: Mapping[str, str] | None) -> str:
    if reason_labels and code in reason_labels:
        return reason_labels[code]
    words = code.replace("_", " ").replace("-", " ")
    return words[:1].upper() + words[1:]


def acd_state_label(
    state: AcdState | str,
    reason_code: str | None = None,
    *,
    reason_labels: Mapping[str, str] | None = None,
) -> str:
    """``Unavailable (Meeting)``: the state's label and, if any, the reason's name
    (from ``reason_labels``, code → name, else the code made readable)."""
    label = ACD_STATE_LABELS.get(state, str(state))
    reason = _reason(reason_code)
    return f"{label} ({_reason_label(reason, reason_labels)})" if reason else label


def teams_label(availability: str, activity: str | None) -> str:
    """``Busy / InACall``, or ``DoNotDisturb / any activity`` for a wildcard."""
    return f"{availability} / {_activity(activity) or 'any activity'}"
