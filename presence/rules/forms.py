"""The presence screens' forms.

The rule editor's rows are not a Django formset: each row has a stable key (a
number, unique across both tables) posted in a hidden ``pub_key``/``sub_key``
input, in DOM order, and its fields are named ``pub-<key>-acd_state`` and so on.
Dragging a row or pressing Up/Down only changes the order of the key inputs.
``EditorState`` is what the admin has on screen; ``editor_apply`` applies one
button press (add, delete, move) without saving anything.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from django import forms
from django.http import QueryDict

from accounts.models import BusinessUnit
from graph.presence import ACTIVITIES, AVAILABILITIES, SETTABLE_PAIRS
from presence.models import AcdState, PresenceRule, PublisherRow, ReasonCode
from presence.rules import core
from presence.rules.services import PublisherRowInput, SubscriberRowInput

CLEAR = "clear"
# The Teams action select: one option per pair Graph lets an app set, and "clear".
ACTION_CHOICES = [
    *((f"{availability}/{activity}", f"Set {availability} / {activity}")
      for availability, activity in SETTABLE_PAIRS),
    (CLEAR, "Clear presence"),
]  # fmt: skip
SESSION_CHOICES = [(minutes, f"{minutes} minutes") for minutes in (5, 15, 30, 60, 120, 240)]
DEFAULT_SESSION = 240
MAX_ROWS = 50  # per direction; a rule with more rows is a mistake, not a need
KEY_PATTERN = re.compile(r"^\d{1,6}$", re.ASCII)
PATH_PATTERN = re.compile(
    r"^(?P<table>publisher|subscriber)_rows(?:\[(?P<index>\d+)\])?(?:\.(?P<field>[\w.]+))?$"
)
# The core's field paths, as the editor's column names.
FIELD_OF_PATH = {
    "action": "action",
    "action.session": "session_minutes",
    "acd_state": "acd_state",
    "reason_code": "reason_code",
    "availability": "availability",
    "activity": "activity",
}


@dataclass
class PubRow:
    key: str
    acd_state: str = AcdState.AVAILABLE
    reason_code: str = ""
    action: str = "Available/Available"  # "<availability>/<activity>" or "clear"
    session: str = str(DEFAULT_SESSION)
    errors: dict[str, list[str]] = field(default_factory=dict)

    def as_input(self) -> PublisherRowInput:
        if self.action == CLEAR:
            return PublisherRowInput(self.acd_state, self.reason_code or None, CLEAR)
        availability, _, activity = self.action.partition("/")
        return PublisherRowInput(
            self.acd_state,
            self.reason_code or None,
            PublisherRow.Action.SET,
            availability,
            activity,
            _minutes(self.session),
        )


@dataclass
class SubRow:
    key: str
    availability: str = "Available"
    activity: str = ""  # "" = any activity
    acd_state: str = AcdState.AVAILABLE
    reason_code: str = ""
    errors: dict[str, list[str]] = field(default_factory=dict)

    def as_input(self) -> SubscriberRowInput:
        return SubscriberRowInput(
            self.availability, self.activity or None, self.acd_state, self.reason_code or None
        )


@dataclass
class EditorState:
    """The rule as the admin has it on screen, valid or not."""

    name: str = ""
    direction: str = PresenceRule.Direction.BOTH
    pub_rows: list[PubRow] = field(default_factory=list)
    sub_rows: list[SubRow] = field(default_factory=list)
    errors: dict[str, list[str]] = field(default_factory=dict)  # name, direction, tables, rule
    on_mapping: str = PresenceRule.OnMapping.KEEP

    def inputs(self) -> tuple[list[PublisherRowInput], list[SubscriberRowInput]]:
        return [row.as_input() for row in self.pub_rows], [row.as_input() for row in self.sub_rows]

    @property
    def has_errors(self) -> bool:
        rows = [*self.pub_rows, *self.sub_rows]
        return bool(self.errors) or any(row.errors for row in rows)


def _minutes(value: str) -> int:
    # Anything that is not a whole number is a session of zero, which the core refuses.
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def editor_from_rule(rule: PresenceRule) -> EditorState:
    publishers = list(rule.publisher_rows.select_related("reason_code"))
    subscribers = list(rule.subscriber_rows.select_related("reason_code"))
    pub_rows = [
        PubRow(
            key=str(index),
            acd_state=row.acd_state,
            reason_code=row.reason_code.code if row.reason_code else "",
            action=CLEAR
            if row.action == PublisherRow.Action.CLEAR
            else f"{row.availability}/{row.activity}",
            session=str(row.session_minutes),
        )
        for index, row in enumerate(publishers, start=1)
    ]
    sub_rows = [
        SubRow(
            key=str(index),
            availability=row.availability,
            activity=row.activity,
            acd_state=row.acd_state,
            reason_code=row.reason_code.code if row.reason_code else "",
        )
        for index, row in enumerate(subscribers, start=len(publishers) + 1)
    ]
    return EditorState(rule.name, rule.direction, pub_rows, sub_rows, on_mapping=rule.on_mapping)


def editor_new() -> EditorState:
    """A new two-way rule with one row each way, so the admin sees what a row is."""
    return EditorState(pub_rows=[PubRow("1")], sub_rows=[SubRow("2")])


def _keys(data: QueryDict, name: str, taken: Collection[str] = ()) -> list[str]:
    keys = [key for key in data.getlist(name) if KEY_PATTERN.match(key) and key not in taken]
    return list(dict.fromkeys(keys))[:MAX_ROWS]


def editor_from_post(data: QueryDict) -> EditorState:
    """The editor as posted: rows in the order of their hidden key inputs."""

    def value(prefix: str, key: str, name: str, default: str = "") -> str:
        return data.get(f"{prefix}-{key}-{name}", default).strip()

    pub_keys = _keys(data, "pub_key")
    pub_rows = [
        PubRow(
            key=key,
            acd_state=value("pub", key, "acd_state"),
            reason_code=value("pub", key, "reason_code"),
            action=value("pub", key, "action"),
            session=value("pub", key, "session_minutes", str(DEFAULT_SESSION)),
        )
        for key in pub_keys
    ]
    sub_rows = [
        SubRow(
            key=key,
            availability=value("sub", key, "availability"),
            activity=value("sub", key, "activity"),
            acd_state=value("sub", key, "acd_state"),
            reason_code=value("sub", key, "reason_code"),
        )
        for key in _keys(data, "sub_key", taken=set(pub_keys))
    ]
    return EditorState(
        name=data.get("name", ""),
        direction=data.get("direction", ""),
        pub_rows=pub_rows,
        sub_rows=sub_rows,
        on_mapping=data.get("on_mapping", PresenceRule.OnMapping.KEEP),
    )


def _next_key(state: EditorState) -> str:
    numbers = [int(row.key) for row in [*state.pub_rows, *state.sub_rows]]
    return str(max(numbers, default=0) + 1)


def _new_pub_row(state: EditorState) -> PubRow:
    # Offer the first ACD state no row covers yet, so a new row is not a duplicate.
    used = {row.acd_state for row in state.pub_rows if not row.reason_code}
    free = [value for value in AcdState.values if value not in used]
    return PubRow(_next_key(state), acd_state=(free or AcdState.values)[0])


def _new_sub_row(state: EditorState) -> SubRow:
    used = {row.availability for row in state.sub_rows if not row.activity}
    free = [value for value in AVAILABILITIES if value not in used]
    return SubRow(_next_key(state), availability=(free or AVAILABILITIES)[0])


def _move(rows: list, key: str, step: int) -> None:
    index = next((i for i, row in enumerate(rows) if row.key == key), None)
    if index is None:
        return
    target = index + step
    if 0 <= target < len(rows):
        rows[index], rows[target] = rows[target], rows[index]


def editor_apply(state: EditorState, op: str) -> None:
    """Apply one editor button (``add_pub``, ``add_sub``, ``del:<key>``, ``up:<key>``,
    ``down:<key>``) to ``state`` in place.
    Unknown ops change nothing: a drag-and-drop submit posts no op, only the new order."""
    if op == "add_pub" and len(state.pub_rows) < MAX_ROWS:
        state.pub_rows.append(_new_pub_row(state))
    if op == "add_sub" and len(state.sub_rows) < MAX_ROWS:
        state.sub_rows.append(_new_sub_row(state))
    verb, _, key = op.partition(":")
    for rows in (state.pub_rows, state.sub_rows):
        if verb == "del":
            rows[:] = [row for row in rows if row.key != key]
        elif verb in ("up", "down"):
            _move(rows, key, -1 if verb == "up" else 1)


def editor_show_problems(state: EditorState, problems: Sequence[core.RuleProblem]) -> None:
    """Attach each of the core's problems to the row and column it is about.

    The core names rows by index (``publisher_rows[2].action``); the editor's
    rows are in the same order, so the index is the row's place on screen.
    """
    for problem in problems:
        match = PATH_PATTERN.match(problem.field)
        if match is None:
            state.errors.setdefault(problem.field or "rule", []).append(problem.message)
            continue
        rows = state.pub_rows if match["table"] == "publisher" else state.sub_rows
        index = match["index"]
        if index is None or int(index) >= len(rows):
            state.errors.setdefault(f"{match['table']}_rows", []).append(problem.message)
            continue
        column = FIELD_OF_PATH.get(match["field"] or "", "row")
        rows[int(index)].errors.setdefault(column, []).append(problem.message)


@dataclass(frozen=True)
class Option:
    value: str
    label: str


def options_with(choices: Iterable[tuple[object, str]], current: str) -> list[Option]:
    """The select's options, plus the current value when it is not one of them, so a
    posted value the editor does not offer stays on screen next to its error."""
    options = [Option(str(value), label) for value, label in choices]
    if current and current not in {option.value for option in options}:
        options.append(Option(current, f"{current} (not allowed)"))
    return options


def editor_rows_for_display(
    state: EditorState, reason_codes: Sequence[ReasonCode]
) -> tuple[list[dict], list[dict]]:
    """Each row with its select options, for the template."""
    reasons = [("", "Any reason")] + [(reason.code, reason.name) for reason in reason_codes]
    sub_reasons = [("", "No reason")] + [(reason.code, reason.name) for reason in reason_codes]
    pub = [
        {
            "row": row,
            "acd_states": options_with(AcdState.choices, row.acd_state),
            "reasons": options_with(reasons, row.reason_code),
            "actions": options_with(ACTION_CHOICES, row.action),
            "sessions": options_with(SESSION_CHOICES, row.session),
        }
        for row in state.pub_rows
    ]
    sub = [
        {
            "row": row,
            "availabilities": options_with(((a, a) for a in AVAILABILITIES), row.availability),
            "activities": options_with(
                [("", "Any activity"), *((a, a) for a in ACTIVITIES)], row.activity
            ),
            "acd_states": options_with(AcdState.choices, row.acd_state),
            "reasons": options_with(sub_reasons, row.reason_code),
        }
        for row in state.sub_rows
    ]
    return pub, sub


def action_label(row: PubRow) -> str:
    return dict(ACTION_CHOICES).get(row.action, row.action)


# Other screens -----------------------------------------------------------------


class ReasonCodeForm(forms.Form):
    code = forms.SlugField(
        max_length=64, label="Code", help_text="As the ACD sends it, e.g. lunch."
    )
    name = forms.CharField(max_length=100, label="Name")


class UnitFilterForm(forms.Form):
    business_unit = forms.ModelChoiceField(
        queryset=BusinessUnit.objects.all(),
        required=False,
        empty_label="All business units",
        label="Unit",
    )


class AgentRuleForm(forms.Form):
    """The agent screen's "Assign rule": the agent's own rule, or its teams'."""

    USER, TEAM = "user", "team"
    source = forms.ChoiceField(
        choices=[(USER, "User Assigned Rule"), (TEAM, "Team Assigned Rule")],
        widget=forms.RadioSelect,
        label="Rule source",
    )
    rule = forms.ModelChoiceField(
        queryset=PresenceRule.objects.none(), required=False, label="Rule"
    )

    def __init__(self, *args, business_unit: BusinessUnit, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["rule"].queryset = PresenceRule.objects.filter(business_unit=business_unit)

    def clean(self):
        data = super().clean()
        if data.get("source") == self.USER and not data.get("rule"):
            self.add_error("rule", "Choose the rule the agent should use.")
        return data


def whole_number(text: str, *, max_value: int = 2**31 - 1) -> int | None:
    """``text`` as a non-negative whole number up to ``max_value``, or None. Only ASCII
    digits: ``str.isdigit`` also accepts "²", which ``int`` then refuses."""
    text = text.strip()
    if not (text.isascii() and text.isdigit()) or int(text) > max_value:
        return None
    return int(text)


def preview_choice(value: str | None, allowed: Sequence[str], default: str) -> str:
    return value if value in allowed else default


def reason_labels(reason_codes: Iterable[ReasonCode]) -> Mapping[str, str]:
    return {reason.code: reason.name for reason in reason_codes}
