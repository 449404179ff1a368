"""Presence rules as plain data: validation, which row applies, the effective rule
and the preview's sentences. docs/graph.md, "Presence" pins the settable pairs, the
PT5M..PT4H session and the availability/activity values. No database."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from graph.presence import ACTIVITIES, AVAILABILITIES, SETTABLE_PAIRS
from presence.rules.core import (
    SETTABLE_PAIRS_SENTENCE,
    AcdState,
    ClearPresence,
    Direction,
    Effective,
    PublisherRow,
    RuleProblem,
    RuleRef,
    RuleSpec,
    SetPresence,
    Source,
    SubscriberRow,
    TeamRule,
    acd_state_label,
    effective_rule,
    format_session,
    match_publisher_row,
    match_subscriber_row,
    publisher_action,
    subscriber_target,
    validate_rule,
)
from presence.rules.preview import (
    describe_effective,
    internal_call_note,
    preview_publisher,
    preview_subscriber,
)
from tests.plugins.hypothesis_profiles import examples

FOUR_HOURS = timedelta(hours=4)
ON_A_CALL = SetPresence("Busy", "InACall", FOUR_HOURS)
AWAY = SetPresence("Away", "Away", timedelta(minutes=30))
AVAILABLE = SetPresence("Available", "Available", FOUR_HOURS)


def pub(state: AcdState, action: object, reason: str | None = None) -> PublisherRow:
    return PublisherRow(state, reason, action)  # type: ignore[arg-type]


def sub(
    availability: str, activity: str | None, state: AcdState, reason: str | None = None
) -> SubscriberRow:
    return SubscriberRow(availability, activity, state, reason)


def publisher_rule(*rows: PublisherRow) -> RuleSpec:
    return RuleSpec("Voice agents", Direction.TO_TEAMS, publisher_rows=rows)


def subscriber_rule(*rows: SubscriberRow) -> RuleSpec:
    return RuleSpec("Back office", Direction.TO_ACD, subscriber_rows=rows)


TWO_WAY = RuleSpec(
    "Two-way",
    Direction.BOTH,
    publisher_rows=(
        pub(AcdState.AVAILABLE, AVAILABLE),
        pub(AcdState.WORKING, ON_A_CALL),
        pub(AcdState.UNAVAILABLE, AWAY),
        pub(AcdState.UNAVAILABLE, ClearPresence(), "lunch"),
        pub(AcdState.LOGGED_OUT, ClearPresence()),
    ),
    subscriber_rows=(
        sub("DoNotDisturb", None, AcdState.UNAVAILABLE, "meeting"),
        sub("Busy", "InAMeeting", AcdState.UNAVAILABLE, "meeting"),
        sub("Available", None, AcdState.AVAILABLE),
    ),
)


def fields(problems: list[RuleProblem]) -> list[str]:
    return [problem.field for problem in problems]


# Validation ------------------------------------------------------------------


def test_a_sound_two_way_rule_has_no_problems() -> None:
    assert validate_rule(TWO_WAY, known_reason_codes={"lunch", "meeting"}) == []


def test_the_refusal_lists_the_five_settable_pairs() -> None:
    """docs/graph.md: setPresence's settable pairs, in Graph's order."""
    assert SETTABLE_PAIRS_SENTENCE == (
        "Teams only lets an app set Available/Available, Busy/InACall, "
        "Busy/InAConferenceCall, Away/Away or DoNotDisturb/Presenting."
    )


@pytest.mark.parametrize(
    ("availability", "activity"),
    [
        ("Busy", "Busy"),  # settable as a preferred presence, not as a session
        ("DoNotDisturb", "DoNotDisturb"),
        ("BeRightBack", "BeRightBack"),
        ("Offline", "OffWork"),
        ("Busy", "InAMeeting"),
        ("Available", "InACall"),
    ],
)
def test_it_refuses_a_pair_teams_cannot_set(availability: str, activity: str) -> None:
    """docs/graph.md: setPresence accepts only the five settable pairs."""
    spec = publisher_rule(
        pub(AcdState.AVAILABLE, AVAILABLE),
        pub(AcdState.WORKING, SetPresence(availability, activity, FOUR_HOURS)),
    )
    assert validate_rule(spec) == [
        RuleProblem(
            "publisher_rows[1].action",
            1,
            f"{availability}/{activity} cannot be set: {SETTABLE_PAIRS_SENTENCE}",
        )
    ]


@pytest.mark.parametrize(("availability", "activity"), SETTABLE_PAIRS)
def test_it_accepts_every_settable_pair(availability: str, activity: str) -> None:
    """docs/graph.md: Available/Available, Busy/InACall, Busy/InAConferenceCall, Away/Away,
    DoNotDisturb/Presenting."""
    spec = publisher_rule(pub(AcdState.WORKING, SetPresence(availability, activity, FOUR_HOURS)))
    assert validate_rule(spec) == []


@pytest.mark.parametrize(
    ("session", "message"),
    [
        (timedelta(minutes=4, seconds=59), "PT4M59S is too short"),
        (timedelta(hours=4, seconds=1), "PT4H1S is too long"),
        (timedelta(hours=8), "PT8H is too long"),
        (timedelta(0), "zero or less is too short"),
        (timedelta(minutes=-5), "zero or less is too short"),
    ],
)
def test_it_refuses_a_session_outside_pt5m_to_pt4h(session: timedelta, message: str) -> None:
    """docs/graph.md: setPresence's expirationDuration runs from PT5M to PT4H."""
    spec = publisher_rule(pub(AcdState.WORKING, SetPresence("Busy", "InACall", session)))
    [problem] = validate_rule(spec)
    assert (problem.field, problem.row) == ("publisher_rows[0].action.session", 0)
    assert problem.message == (
        "Teams keeps an app's presence session from 5 minutes to 4 hours "
        f"(PT5M to PT4H); {message}."
    )


@pytest.mark.parametrize("session", [timedelta(minutes=5), timedelta(hours=4)])
def test_it_accepts_sessions_at_both_limits(session: timedelta) -> None:
    """docs/graph.md: PT5M and PT4H themselves are allowed."""
    spec = publisher_rule(pub(AcdState.WORKING, SetPresence("Busy", "InACall", session)))
    assert validate_rule(spec) == []


def test_clearing_needs_no_pair_or_session() -> None:
    assert validate_rule(publisher_rule(pub(AcdState.LOGGED_OUT, ClearPresence()))) == []


def test_it_refuses_two_rows_for_the_same_state_and_reason() -> None:
    spec = publisher_rule(
        pub(AcdState.UNAVAILABLE, AWAY, "break"),
        pub(AcdState.WORKING, ON_A_CALL),
        pub(AcdState.UNAVAILABLE, ClearPresence(), "break"),
        pub(AcdState.WORKING, ClearPresence()),
    )
    assert validate_rule(spec) == [
        RuleProblem(
            "publisher_rows[2]",
            2,
            "Another row already covers Unavailable (Break); keep one row per state and reason.",
        ),
        RuleProblem(
            "publisher_rows[3]",
            3,
            "Another row already covers Working (on a call); keep one row per state and reason.",
        ),
    ]


def test_a_blank_reason_code_is_the_same_row_as_no_reason_code() -> None:
    spec = publisher_rule(
        pub(AcdState.UNAVAILABLE, AWAY, None), pub(AcdState.UNAVAILABLE, AWAY, "")
    )
    assert fields(validate_rule(spec)) == ["publisher_rows[1]"]


def test_a_state_may_have_a_plain_row_and_rows_per_reason() -> None:
    spec = publisher_rule(
        pub(AcdState.UNAVAILABLE, AWAY),
        pub(AcdState.UNAVAILABLE, ClearPresence(), "lunch"),
        pub(AcdState.UNAVAILABLE, SetPresence("DoNotDisturb", "Presenting", FOUR_HOURS), "train"),
    )
    assert validate_rule(spec) == []


@pytest.mark.parametrize(
    "state", [AcdState.AVAILABLE, AcdState.WORKING, AcdState.WRAP_UP, AcdState.LOGGED_OUT]
)
def test_only_unavailable_takes_a_reason_code(state: AcdState) -> None:
    spec = RuleSpec(
        "Mixed",
        Direction.BOTH,
        publisher_rows=(pub(state, ClearPresence(), "break"),),
        subscriber_rows=(sub("Away", None, state, "break"),),
    )
    problems = validate_rule(spec)
    assert fields(problems) == [
        "publisher_rows[0].reason_code",
        "subscriber_rows[0].reason_code",
    ]
    assert problems[0].message.startswith("Only Unavailable takes a reason code;")


def test_it_refuses_reason_codes_outside_the_catalogue() -> None:
    spec = RuleSpec(
        "Breaks",
        Direction.BOTH,
        publisher_rows=(pub(AcdState.UNAVAILABLE, AWAY, "siesta"),),
        subscriber_rows=(sub("Away", None, AcdState.UNAVAILABLE, "nap"),),
    )
    assert validate_rule(spec, known_reason_codes={"break", "lunch"}) == [
        RuleProblem(
            "publisher_rows[0].reason_code",
            0,
            "'siesta' is not one of this business unit's reason codes.",
        ),
        RuleProblem(
            "subscriber_rows[0].reason_code",
            0,
            "'nap' is not one of this business unit's reason codes.",
        ),
    ]
    assert validate_rule(spec) == [], "without a catalogue any code goes"


@pytest.mark.parametrize(
    ("row", "field"),
    [
        (sub("Idle", None, AcdState.AVAILABLE), "subscriber_rows[0].availability"),
        (sub("available", None, AcdState.AVAILABLE), "subscriber_rows[0].availability"),
        (sub("Busy", "OnThePhone", AcdState.WORKING), "subscriber_rows[0].activity"),
        (sub("Busy", "InCall", AcdState.WORKING), "subscriber_rows[0].activity"),
    ],
)
def test_it_refuses_values_graph_never_sends(row: SubscriberRow, field: str) -> None:
    """docs/graph.md: the nine availability and fifteen activity values, PascalCase."""
    assert fields(validate_rule(subscriber_rule(row))) == [field]


def test_every_graph_availability_and_activity_can_be_mapped() -> None:
    """docs/graph.md: any availability, any activity, and the wildcard are fine."""
    rows = [sub(a, None, AcdState.AVAILABLE) for a in AVAILABILITIES]
    rows += [
        sub(a, b, AcdState.AVAILABLE) for a, b in itertools.product(AVAILABILITIES, ACTIVITIES)
    ]
    assert validate_rule(subscriber_rule(*rows)) == []


def test_it_refuses_two_subscriber_rows_for_the_same_presence() -> None:
    spec = subscriber_rule(
        sub("Busy", "InACall", AcdState.WORKING),
        sub("DoNotDisturb", None, AcdState.UNAVAILABLE, "meeting"),
        sub("Busy", "InACall", AcdState.UNAVAILABLE, "meeting"),
        sub("DoNotDisturb", "", AcdState.UNAVAILABLE, "focus"),  # blank activity = wildcard
    )
    assert validate_rule(spec) == [
        RuleProblem(
            "subscriber_rows[2]",
            2,
            "Another row already maps Busy / InACall; "
            "each Teams presence can lead to one ACD state.",
        ),
        RuleProblem(
            "subscriber_rows[3]",
            3,
            "Another row already maps DoNotDisturb / any activity; "
            "each Teams presence can lead to one ACD state.",
        ),
    ]


def test_a_wildcard_and_a_specific_row_for_one_availability_can_coexist() -> None:
    spec = subscriber_rule(
        sub("Busy", None, AcdState.UNAVAILABLE, "busy"),
        sub("Busy", "InACall", AcdState.WORKING),
    )
    assert validate_rule(spec) == []


def test_a_publishing_rule_cannot_carry_subscriber_rows() -> None:
    spec = RuleSpec(
        "One way",
        Direction.TO_TEAMS,
        publisher_rows=(pub(AcdState.WORKING, ON_A_CALL),),
        subscriber_rows=(sub("Away", None, AcdState.UNAVAILABLE),),
    )
    [problem] = validate_rule(spec)
    assert (problem.field, problem.row) == ("subscriber_rows", None)
    assert "cannot have Teams → contact center rows" in problem.message


def test_a_subscribing_rule_cannot_carry_publisher_rows() -> None:
    spec = RuleSpec(
        "One way",
        Direction.TO_ACD,
        publisher_rows=(pub(AcdState.WORKING, ON_A_CALL),),
        subscriber_rows=(sub("Away", None, AcdState.UNAVAILABLE),),
    )
    [problem] = validate_rule(spec)
    assert (problem.field, problem.row) == ("publisher_rows", None)
    assert "cannot have contact center → Teams rows" in problem.message


@pytest.mark.parametrize(
    ("direction", "missing"),
    [
        (Direction.TO_TEAMS, ["publisher_rows"]),
        (Direction.TO_ACD, ["subscriber_rows"]),
        (Direction.BOTH, ["publisher_rows", "subscriber_rows"]),
    ],
)
def test_a_rule_needs_rows_for_each_of_its_directions(
    direction: Direction, missing: list[str]
) -> None:
    assert fields(validate_rule(RuleSpec("Empty", direction))) == missing


def test_a_two_way_rule_needs_rows_both_ways() -> None:
    spec = RuleSpec("Half", Direction.BOTH, publisher_rows=(pub(AcdState.WORKING, ON_A_CALL),))
    assert validate_rule(spec) == [
        RuleProblem("subscriber_rows", None, "Add at least one Teams → contact center row.")
    ]


def test_a_rule_needs_a_name() -> None:
    spec = RuleSpec("  ", Direction.TO_TEAMS, publisher_rows=(pub(AcdState.WORKING, ON_A_CALL),))
    assert validate_rule(spec) == [RuleProblem("name", None, "Give the rule a name.")]


def test_malformed_values_become_problems_not_exceptions() -> None:
    spec = RuleSpec(
        "Junk",
        "sideways",  # type: ignore[arg-type]
        publisher_rows=(
            pub("on_break", ClearPresence()),  # type: ignore[arg-type]
            pub(AcdState.WORKING, None),
            pub(AcdState.AVAILABLE, SetPresence("Available", "Available", 240)),  # type: ignore[arg-type]
            sub("Away", None, AcdState.AVAILABLE),  # type: ignore[arg-type]
        ),
        subscriber_rows=(sub("Away", 7, AcdState.AVAILABLE, 3),),  # type: ignore[arg-type]
    )
    assert fields(validate_rule(spec)) == [
        "direction",
        "publisher_rows[0].acd_state",
        "publisher_rows[1].action",
        "publisher_rows[2].action.session",
        "publisher_rows[3]",
        "subscriber_rows[0].activity",
        "subscriber_rows[0].reason_code",
    ]


# Which row applies ---------------------------------------------------------


def test_a_reason_code_row_beats_the_plain_state_row() -> None:
    # The plain row comes first on purpose: specificity, not position, decides.
    assert publisher_action(TWO_WAY, AcdState.UNAVAILABLE, "lunch") == ClearPresence()
    assert match_publisher_row(TWO_WAY, AcdState.UNAVAILABLE, "lunch") == 3


def test_the_plain_state_row_covers_any_or_no_reason() -> None:
    assert publisher_action(TWO_WAY, AcdState.UNAVAILABLE, "break") == AWAY
    assert publisher_action(TWO_WAY, AcdState.UNAVAILABLE) == AWAY
    assert publisher_action(TWO_WAY, AcdState.UNAVAILABLE, "") == AWAY


def test_a_reason_row_alone_leaves_other_reasons_alone() -> None:
    spec = publisher_rule(pub(AcdState.UNAVAILABLE, AWAY, "break"))
    assert publisher_action(spec, AcdState.UNAVAILABLE, "break") == AWAY
    assert publisher_action(spec, AcdState.UNAVAILABLE, "lunch") is None
    assert publisher_action(spec, AcdState.UNAVAILABLE) is None


def test_a_state_without_a_row_leaves_teams_alone() -> None:
    assert publisher_action(TWO_WAY, AcdState.WRAP_UP) is None
    assert match_publisher_row(TWO_WAY, AcdState.WRAP_UP) is None


def test_a_rule_publishes_only_if_its_direction_says_so() -> None:
    rows = (pub(AcdState.WORKING, ON_A_CALL),)
    publishing = RuleSpec("P", Direction.TO_TEAMS, publisher_rows=rows)
    subscribing = RuleSpec("S", Direction.TO_ACD, publisher_rows=rows)
    assert publisher_action(publishing, AcdState.WORKING) == ON_A_CALL
    assert publisher_action(TWO_WAY, AcdState.WORKING) == ON_A_CALL
    assert publisher_action(subscribing, AcdState.WORKING) is None


def test_a_rule_subscribes_only_if_its_direction_says_so() -> None:
    rows = (sub("Away", None, AcdState.UNAVAILABLE, "away"),)
    subscribing = RuleSpec("S", Direction.TO_ACD, subscriber_rows=rows)
    publishing = RuleSpec("P", Direction.TO_TEAMS, subscriber_rows=rows)
    assert subscriber_target(subscribing, "Away", "Away") == (AcdState.UNAVAILABLE, "away")
    assert subscriber_target(publishing, "Away", "Away") is None


def test_a_specific_subscriber_row_beats_the_wildcard_wherever_it_sits() -> None:
    # In TWO_WAY the Busy/InAMeeting row follows the DoNotDisturb wildcard; here the
    # wildcard for the same availability comes first.
    spec = subscriber_rule(
        sub("Busy", None, AcdState.UNAVAILABLE, "busy"),
        sub("Busy", "InACall", AcdState.WORKING),
    )
    assert subscriber_target(spec, "Busy", "InACall") == (AcdState.WORKING, None)
    assert match_subscriber_row(spec, "Busy", "InACall") == 1


def test_the_wildcard_covers_the_other_activities_of_its_availability_only() -> None:
    assert subscriber_target(TWO_WAY, "DoNotDisturb", "Presenting") == (
        AcdState.UNAVAILABLE,
        "meeting",
    )
    assert subscriber_target(TWO_WAY, "Available", "Available") == (AcdState.AVAILABLE, None)
    assert subscriber_target(TWO_WAY, "AvailableIdle", "Available") is None
    assert subscriber_target(TWO_WAY, "Busy", "InACall") is None


# Effective rule --------------------------------------------------------------

GOLD, SILVER, BRONZE = RuleRef(1, "Gold"), RuleRef(2, "Silver"), RuleRef(3, "Bronze")


def test_the_agents_own_rule_beats_its_teams() -> None:
    teams = [TeamRule(10, "Sales", SILVER, 1)]
    assert effective_rule(GOLD, teams) == Effective(GOLD, Source.AGENT)


def test_no_rule_anywhere_is_none() -> None:
    assert effective_rule(None, []) == Effective(None, Source.NONE)


def test_teams_that_agree_give_their_rule_and_the_first_team() -> None:
    teams = [
        TeamRule(12, "Support", SILVER, None),
        TeamRule(11, "Sales", SILVER, None),
        TeamRule(13, "Billing", SILVER, 5),
    ]
    # Billing has a priority, so it comes first; otherwise names decide.
    assert effective_rule(None, teams) == Effective(SILVER, Source.TEAM, 13, "Billing")
    assert effective_rule(None, teams[:2]) == Effective(SILVER, Source.TEAM, 11, "Sales")


def test_the_strictly_best_priority_settles_different_rules() -> None:
    teams = [TeamRule(10, "Sales", GOLD, 2), TeamRule(11, "Support", SILVER, 1)]
    assert effective_rule(None, teams) == Effective(SILVER, Source.TEAM, 11, "Support")


def test_a_team_with_a_priority_beats_teams_without() -> None:
    teams = [TeamRule(10, "Sales", GOLD, None), TeamRule(11, "Support", SILVER, 9)]
    assert effective_rule(None, teams) == Effective(SILVER, Source.TEAM, 11, "Support")


def test_teams_tied_at_the_best_priority_that_agree_still_win() -> None:
    teams = [
        TeamRule(10, "Sales", GOLD, 1),
        TeamRule(11, "Support", GOLD, 1),
        TeamRule(12, "Billing", SILVER, 2),
    ]
    assert effective_rule(None, teams) == Effective(GOLD, Source.TEAM, 10, "Sales")


def test_a_tie_at_the_best_priority_is_a_conflict_listing_the_tied_teams() -> None:
    sales, support = TeamRule(10, "Sales", GOLD, 1), TeamRule(11, "Support", SILVER, 1)
    billing = TeamRule(12, "Billing", BRONZE, 2)
    assert effective_rule(None, [billing, support, sales]) == Effective(
        None, Source.CONFLICT, conflict=(sales, support)
    )


def test_different_rules_without_priorities_conflict() -> None:
    sales, support = TeamRule(10, "Sales", GOLD, None), TeamRule(11, "Support", SILVER, None)
    effective = effective_rule(None, [support, sales])
    assert effective == Effective(None, Source.CONFLICT, conflict=(sales, support))
    assert describe_effective(effective) == (
        "No rule: teams Sales and Support have different rules and no priority settles it. "
        "Give one team a better (lower) priority, or give the agent its own rule."
    )


def test_the_source_is_described_in_words() -> None:
    assert describe_effective(Effective(GOLD, Source.AGENT)) == "Gold: the agent's own rule."
    assert describe_effective(Effective(GOLD, Source.TEAM, 10, "Sales")) == (
        "Gold: from team Sales."
    )
    assert describe_effective(Effective(None, Source.NONE)).startswith("No rule: neither")


# Preview sentences -----------------------------------------------------------


def test_the_preview_says_what_teams_will_show() -> None:
    assert preview_publisher(TWO_WAY, AcdState.WORKING) == (
        "Set Teams presence to Busy / InACall for 4 hours"
    )
    assert preview_publisher(TWO_WAY, AcdState.UNAVAILABLE, "break") == (
        "Set Teams presence to Away / Away for 30 minutes"
    )
    assert preview_publisher(TWO_WAY, AcdState.LOGGED_OUT) == "Clear ccbridge's presence session"
    assert preview_publisher(TWO_WAY, AcdState.WRAP_UP) == (
        "No row for Wrap-up: Teams presence is left as it is"
    )


def test_the_preview_names_a_missing_reason_row() -> None:
    spec = publisher_rule(pub(AcdState.UNAVAILABLE, AWAY, "break"))
    assert preview_publisher(spec, AcdState.UNAVAILABLE, "lunch_time") == (
        "No row for Unavailable (Lunch time): Teams presence is left as it is"
    )
    assert preview_publisher(
        spec, AcdState.UNAVAILABLE, "lunch_time", reason_labels={"lunch_time": "Lunch"}
    ) == ("No row for Unavailable (Lunch): Teams presence is left as it is")


def test_the_preview_says_what_the_acd_will_get() -> None:
    assert preview_subscriber(TWO_WAY, "DoNotDisturb", "Presenting") == (
        "ACD state Unavailable (Meeting)"
    )
    assert preview_subscriber(TWO_WAY, "Available", "Available") == "ACD state Available"
    assert preview_subscriber(TWO_WAY, "Away", "OutOfOffice") == (
        "No row for Away / OutOfOffice: the ACD state is left as it is"
    )


def test_the_preview_explains_a_direction_the_rule_does_not_sync() -> None:
    publishing = publisher_rule(pub(AcdState.WORKING, ON_A_CALL))
    subscribing = subscriber_rule(sub("Away", None, AcdState.UNAVAILABLE))
    assert preview_subscriber(publishing, "Away", "Away") == (
        "This rule does not follow Teams: the ACD state is left as it is"
    )
    assert preview_publisher(subscribing, AcdState.WORKING) == (
        "This rule does not publish to Teams: Teams presence is left as it is"
    )


def test_internal_calls_are_explained() -> None:
    assert internal_call_note() == "Agent-to-agent (internal) calls never trigger rules."


def test_labels() -> None:
    assert acd_state_label(AcdState.UNAVAILABLE, "meeting") == "Unavailable (Meeting)"
    assert acd_state_label(AcdState.WORKING) == "Working (on a call)"
    assert acd_state_label(AcdState.WRAP_UP, None) == "Wrap-up"


@pytest.mark.parametrize(
    ("session", "text"),
    [
        (timedelta(minutes=5), "PT5M"),
        (timedelta(hours=1, minutes=30), "PT1H30M"),
        (timedelta(hours=4), "PT4H"),
    ],
)
def test_sessions_are_written_as_graph_expects(session: timedelta, text: str) -> None:
    """docs/graph.md: expirationDuration is an ISO-8601 duration, "PT5M".."PT4H"."""
    assert format_session(session) == text


# Properties ------------------------------------------------------------------

REASONS = st.sampled_from(["break", "lunch", "meeting", "training"])
STATES = st.sampled_from(list(AcdState))
VALID_SESSIONS = st.timedeltas(min_value=timedelta(minutes=5), max_value=timedelta(hours=4))
SETTABLE = st.builds(
    lambda pair, session: SetPresence(*pair, session),
    st.sampled_from(SETTABLE_PAIRS),
    VALID_SESSIONS,
)
VALID_ACTIONS = st.one_of(SETTABLE, st.just(ClearPresence()))


PUBLISHER_KEYS = [(state, None) for state in AcdState] + [
    (AcdState.UNAVAILABLE, reason) for reason in ("break", "lunch", "meeting", "training")
]
SPECIFIC_KEYS = list(itertools.product(AVAILABILITIES, ACTIVITIES))


@st.composite
def acd_targets(draw: st.DrawFn) -> tuple[AcdState, str | None]:
    state = draw(STATES)
    return state, draw(st.none() | REASONS) if state == AcdState.UNAVAILABLE else None


@st.composite
def valid_publisher_rows(draw: st.DrawFn) -> tuple[PublisherRow, ...]:
    # Distinct keys first: unique_by on generated rows rejects too many draws.
    keys = draw(st.lists(st.sampled_from(PUBLISHER_KEYS), min_size=1, max_size=6, unique=True))
    return tuple(PublisherRow(state, reason, draw(VALID_ACTIONS)) for state, reason in keys)


@st.composite
def valid_subscriber_rows(draw: st.DrawFn) -> tuple[SubscriberRow, ...]:
    wildcards = draw(st.lists(st.sampled_from(AVAILABILITIES), max_size=3, unique=True))
    specifics = draw(st.lists(st.sampled_from(SPECIFIC_KEYS), max_size=6, unique=True))
    keys = [(availability, None) for availability in wildcards] + specifics
    if not keys:
        keys = [(draw(st.sampled_from(AVAILABILITIES)), None)]
    keys = draw(st.permutations(keys))
    return tuple(SubscriberRow(a, b, *draw(acd_targets())) for a, b in keys)


@st.composite
def valid_rules(draw: st.DrawFn, directions: tuple[Direction, ...] = tuple(Direction)) -> RuleSpec:
    direction = draw(st.sampled_from(directions))
    publishes = direction != Direction.TO_ACD
    subscribes = direction != Direction.TO_TEAMS
    return RuleSpec(
        "Generated",
        direction,
        draw(valid_publisher_rows()) if publishes else (),
        draw(valid_subscriber_rows()) if subscribes else (),
    )


def assert_settable(action: object) -> None:
    if action is None or isinstance(action, ClearPresence):
        return
    assert isinstance(action, SetPresence)
    assert (action.availability, action.activity) in SETTABLE_PAIRS
    assert timedelta(minutes=5) <= action.session <= timedelta(hours=4)


@settings(max_examples=examples(200))
@given(valid_rules(), STATES, st.none() | REASONS | st.text(max_size=5))
def test_a_valid_rule_only_ever_asks_teams_for_settable_presence(
    spec: RuleSpec, state: AcdState, reason: str | None
) -> None:
    """docs/graph.md: the five settable pairs and PT5M..PT4H, for every state and reason."""
    assert validate_rule(spec) == []
    assert_settable(publisher_action(spec, state, reason))


# Any Graph pair with sessions around the limits: validation must accept exactly
# what setPresence accepts, no more and no less.
EDGE_SESSIONS = st.sampled_from(
    [timedelta(minutes=m) for m in (-5, 0, 4, 5, 60, 240)] + [timedelta(hours=4, seconds=1)]
)
ANY_PAIR = st.sampled_from(SETTABLE_PAIRS) | st.tuples(
    st.sampled_from(AVAILABILITIES), st.sampled_from(ACTIVITIES)
)


@settings(max_examples=examples(200))
@given(ANY_PAIR, EDGE_SESSIONS, STATES)
def test_validation_accepts_exactly_what_teams_accepts(
    pair: tuple[str, str], session: timedelta, state: AcdState
) -> None:
    """docs/graph.md: setPresence takes the five settable pairs for PT5M..PT4H."""
    spec = publisher_rule(pub(state, SetPresence(*pair, session)))
    teams_accepts = pair in SETTABLE_PAIRS and timedelta(minutes=5) <= session <= FOUR_HOURS
    assert (validate_rule(spec) == []) == teams_accepts
    if teams_accepts:
        assert_settable(publisher_action(spec, state))


@settings(max_examples=examples(200))
@given(st.none() | st.builds(RuleRef, st.integers(1, 4), st.sampled_from(["A", "B"])), st.data())
def test_the_effective_rule_ignores_the_order_of_teams(
    agent_rule: RuleRef | None, data: st.DataObject
) -> None:
    team_rules = data.draw(
        st.lists(
            st.builds(
                TeamRule,
                st.integers(1, 6),
                st.sampled_from(["Sales", "sales", "Support", "Billing"]),
                st.builds(RuleRef, st.integers(1, 4), st.sampled_from(["Gold", "Silver"])),
                st.none() | st.integers(0, 3),
            ),
            max_size=6,
        )
    )
    effective = effective_rule(agent_rule, team_rules)
    assert effective_rule(agent_rule, data.draw(st.permutations(team_rules))) == effective
    if effective.source == Source.CONFLICT:
        assert effective.rule is None
        assert len({team.rule.id for team in effective.conflict}) >= 2
    if effective.source == Source.TEAM:
        assert any(
            (t.team_id, t.team_name, t.rule)
            == (effective.team_id, effective.team_name, effective.rule)
            for t in team_rules
        )


JUNK = st.none() | st.integers() | st.text(max_size=8)


@settings(max_examples=examples(200))
@given(
    st.builds(
        RuleSpec,
        st.text(max_size=8),
        st.sampled_from(list(Direction)) | st.text(max_size=8),
        st.lists(
            st.builds(
                PublisherRow,
                STATES | st.text(max_size=8),
                st.none() | st.text(max_size=8),
                st.just(ClearPresence())
                | JUNK
                | st.builds(
                    SetPresence,
                    st.sampled_from(AVAILABILITIES) | JUNK,
                    st.sampled_from(ACTIVITIES) | JUNK,
                    st.timedeltas() | JUNK,
                ),
            ),
            max_size=4,
        ).map(tuple),
        st.lists(
            st.builds(
                SubscriberRow,
                st.sampled_from(AVAILABILITIES) | JUNK,
                st.sampled_from(ACTIVITIES) | JUNK,
                STATES | st.text(max_size=8),
                st.none() | REASONS | JUNK,
            ),
            max_size=4,
        ).map(tuple),
    ),
    st.none() | st.sets(st.text(max_size=8), max_size=3),
)
def test_validation_reports_problems_and_never_raises(
    spec: RuleSpec, known: set[str] | None
) -> None:
    problems = validate_rule(spec, known_reason_codes=known)
    assert all(isinstance(problem, RuleProblem) and problem.message for problem in problems)


@settings(max_examples=examples(200))
@given(valid_rules((Direction.TO_ACD, Direction.BOTH)), st.data())
def test_subscriber_targets_are_deterministic_and_specific_rows_win(
    spec: RuleSpec, data: st.DataObject
) -> None:
    shuffled = RuleSpec(
        spec.name,
        spec.direction,
        spec.publisher_rows,
        tuple(data.draw(st.permutations(spec.subscriber_rows))),
    )
    for availability, activity in itertools.product(AVAILABILITIES, ACTIVITIES):
        target = subscriber_target(spec, availability, activity)
        assert subscriber_target(spec, availability, activity) == target
        assert subscriber_target(shuffled, availability, activity) == target
    specific = {(r.availability, r.activity): r for r in spec.subscriber_rows if r.activity}
    wildcards = {r.availability: r for r in spec.subscriber_rows if r.activity is None}
    for (availability, activity), row in specific.items():
        assert subscriber_target(spec, availability, activity) == (row.acd_state, row.reason_code)
    for availability, row in wildcards.items():
        for activity in ACTIVITIES:
            if (availability, activity) not in specific:
                expected = (row.acd_state, row.reason_code)
                assert subscriber_target(spec, availability, activity) == expected
