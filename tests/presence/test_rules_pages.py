"""The presence-rules screens: the rule list, the editor (rows added, deleted and
moved without saving; every problem shown next to its row; one transaction), delete,
the assignment pickers, an agent's effective rule and preview, the agents without
a rule, reason codes, and who may do what."""

import re

import pytest
from django.test import Client
from django.urls import reverse

from graph.presence import SETTABLE_PAIRS
from integrations.models import AuditEntry
from presence.models import (
    AgentRuleAssignment,
    PresenceRule,
    PublisherRow,
    ReasonCode,
    SubscriberRow,
    TeamRuleAssignment,
)
from presence.rules.core import SETTABLE_PAIRS_SENTENCE
from tests.accounts.factories import AgentFactory, AgentTeamFactory
from tests.presence.factories import (
    AgentRuleAssignmentFactory,
    PresenceRuleFactory,
    TeamRuleAssignmentFactory,
)

HTMX = {"HX-Request": "true"}
ON_A_CALL = {"acd_state": "working", "action": "Busy/InACall", "session_minutes": "60"}
AVAILABLE = {"acd_state": "available", "action": "Available/Available", "session_minutes": "240"}
LUNCH = {"acd_state": "unavailable", "reason_code": "lunch", "action": "clear"}
DND = {"availability": "DoNotDisturb", "activity": "", "acd_state": "unavailable"}
IN_A_MEETING = {
    "availability": "Busy",
    "activity": "InAMeeting",
    "acd_state": "unavailable",
    "reason_code": "meeting",
}


def new_url(unit) -> str:
    return f"{reverse('presence:rule_create')}?business_unit={unit.pk}"


def edit_url(rule) -> str:
    return reverse("presence:rule_edit", args=[rule.pk])


def editor_data(
    *, name="Voice agents", direction="both", pub=(), sub=(), op="save", first_key=1
) -> dict:
    """What the editor form posts: keys in row order, fields named pub-<key>-<field>."""
    data: dict = {"name": name, "direction": direction, "op": op, "pub_key": [], "sub_key": []}
    key = first_key
    for table, rows in (("pub", pub), ("sub", sub)):
        for row in rows:
            data[f"{table}_key"].append(str(key))
            data.update({f"{table}-{key}-{field}": value for field, value in row.items()})
            key += 1
    return data


def keys(html: str, table: str) -> list[str]:
    return re.findall(rf'name="{table}_key" value="(\d+)"', html)


def selected(html: str, name: str) -> str:
    select = re.search(rf'<select id="{name}" name="{name}".*?</select>', html, re.S)
    assert select, f"no select {name}"
    chosen = re.search(r'<option value="([^"]*)" selected>', select.group(0))
    return chosen.group(1) if chosen else ""


def row_errors(html: str, name: str) -> list[str]:
    block = re.search(rf'<div id="{name}-errors">(.*?)</div>', html, re.S)
    return (
        re.findall(r'<p class="field-error" role="alert">(.*?)</p>', block.group(1))
        if block
        else []
    )


# The editor: saving ---------------------------------------------------------------


def test_admin_creates_a_two_way_rule_with_rows_in_their_order(administrator_client, unit):
    data = editor_data(pub=[AVAILABLE, ON_A_CALL, LUNCH], sub=[IN_A_MEETING, DND])
    response = administrator_client.post(new_url(unit), data)

    rule = PresenceRule.objects.get(name="Voice agents")
    assert response.status_code == 302
    assert response["Location"] == edit_url(rule)
    assert rule.business_unit == unit
    assert rule.direction == "both"
    assert [
        (r.position, r.acd_state, r.reason_code and r.reason_code.code, r.action, r.activity)
        for r in rule.publisher_rows.all()
    ] == [
        (0, "available", None, "set", "Available"),
        (1, "working", None, "set", "InACall"),
        (2, "unavailable", "lunch", "clear", ""),
    ]
    assert rule.publisher_rows.get(position=1).session_minutes == 60
    assert [(r.availability, r.activity, r.acd_state) for r in rule.subscriber_rows.all()] == [
        ("Busy", "InAMeeting", "unavailable"),
        ("DoNotDisturb", "", "unavailable"),
    ]
    page = administrator_client.get(edit_url(rule)).content.decode()
    assert "Saved rule Voice agents." in page
    assert keys(page, "pub") == ["1", "2", "3"]
    assert selected(page, "pub-2-action") == "Busy/InACall"
    assert selected(page, "pub-3-reason_code") == "lunch"
    assert selected(page, "sub-5-activity") == ""


def test_a_new_rule_keeps_the_acd_on_mapping_until_the_admin_says_otherwise(
    administrator_client, supervisor_client, unit
):
    page = administrator_client.get(new_url(unit)).content.decode()
    assert selected(page, "on_mapping") == "keep"
    assert "Keep the ACD state until the Teams presence changes" in page

    data = editor_data(sub=[DND], direction="subscriber") | {"on_mapping": "apply"}
    administrator_client.post(new_url(unit), data)

    rule = PresenceRule.objects.get(name="Voice agents")
    assert rule.on_mapping == PresenceRule.OnMapping.APPLY
    assert selected(administrator_client.get(edit_url(rule)).content.decode(), "on_mapping") == (
        "apply"
    )
    read_only = supervisor_client.get(edit_url(rule)).content.decode()
    assert "Apply the first Teams presence to the ACD" in read_only


def test_the_teams_action_offers_exactly_the_settable_pairs_and_clear(administrator_client, unit):
    page = administrator_client.get(new_url(unit)).content.decode()
    select = re.search(r'<select id="pub-1-action".*?</select>', page, re.S).group(0)
    labels = re.findall(r">([^<>]+)</option>", select)
    assert labels == [f"Set {a} / {b}" for a, b in SETTABLE_PAIRS] + ["Clear presence"]
    assert labels == [
        "Set Available / Available",
        "Set Busy / InACall",
        "Set Busy / InAConferenceCall",
        "Set Away / Away",
        "Set DoNotDisturb / Presenting",
        "Clear presence",
    ]
    sessions = re.search(r'<select id="pub-1-session_minutes".*?</select>', page, re.S).group(0)
    assert re.findall(r'value="(\d+)"', sessions) == ["5", "15", "30", "60", "120", "240"]


def test_saving_with_htmx_sends_the_browser_to_the_saved_rule(administrator_client, unit):
    response = administrator_client.post(
        new_url(unit), editor_data(pub=[AVAILABLE], sub=[DND]), headers=HTMX
    )
    rule = PresenceRule.objects.get()
    assert response.status_code == 200
    assert response["HX-Redirect"] == edit_url(rule)


def test_editing_replaces_every_row_and_keeps_the_rule(administrator_client, unit):
    rule = PresenceRuleFactory(business_unit=unit, name="Voice agents")
    data = editor_data(name="Voice agents 2", direction="publisher", pub=[ON_A_CALL, AVAILABLE])
    response = administrator_client.post(edit_url(rule), data)

    assert response.status_code == 302
    rule.refresh_from_db()
    assert rule.name == "Voice agents 2"
    assert rule.direction == "publisher"
    assert [r.acd_state for r in rule.publisher_rows.all()] == ["working", "available"]
    assert not rule.subscriber_rows.exists()
    assert AuditEntry.objects.filter(action="rule.update", target_id=str(rule.pk)).exists()


# The editor: every problem, next to its row, nothing saved ----------------------------


def _refused(client, unit, data) -> str:
    response = client.post(new_url(unit), data)
    assert response.status_code == 200
    assert not PresenceRule.objects.exists()
    assert not PublisherRow.objects.exists()
    assert not SubscriberRow.objects.exists()
    page = response.content.decode()
    assert "The rule was not saved" in page
    return page


def test_a_pair_teams_cannot_set_is_refused_listing_the_settable_pairs(administrator_client, unit):
    busy_busy = {"acd_state": "working", "action": "Busy/Busy", "session_minutes": "60"}
    page = _refused(administrator_client, unit, editor_data(pub=[AVAILABLE, busy_busy], sub=[DND]))

    assert row_errors(page, "pub-2-action") == [
        f"Busy/Busy cannot be set: {SETTABLE_PAIRS_SENTENCE}"
    ]
    assert "Available/Available, Busy/InACall, Busy/InAConferenceCall, Away/Away or " in page
    assert row_errors(page, "pub-1-action") == []
    # What the admin posted stays on screen, marked.
    assert selected(page, "pub-2-action") == "Busy/Busy"
    assert "Busy/Busy (not allowed)" in page
    assert 'value="Voice agents"' in page


def test_two_rows_for_the_same_state_and_reason_are_refused(administrator_client, unit):
    lunch_away = {**LUNCH, "action": "Away/Away", "session_minutes": "30"}
    page = _refused(
        administrator_client, unit, editor_data(pub=[LUNCH, AVAILABLE, lunch_away], sub=[DND])
    )
    assert "Another row already covers Unavailable (Lunch); keep one row per state and reason." in (
        page
    )
    # The message sits in the third row, not the first.
    third = re.search(r'<tr draggable="true" data-key="3".*?</tr>', page, re.S).group(0)
    assert "Another row already covers" in third
    first = re.search(r'<tr draggable="true" data-key="1".*?</tr>', page, re.S).group(0)
    assert "Another row already covers" not in first


def test_two_any_activity_rows_for_one_availability_are_refused(administrator_client, unit):
    away_any = {"availability": "Away", "activity": "", "acd_state": "unavailable"}
    away_any_again = {"availability": "Away", "activity": "", "acd_state": "wrap_up"}
    page = _refused(
        administrator_client,
        unit,
        editor_data(pub=[AVAILABLE], sub=[away_any, DND, away_any_again]),
    )
    fourth = re.search(r'<tr draggable="true" data-key="4".*?</tr>', page, re.S).group(0)
    assert "Another row already maps Away / any activity" in fourth


def test_a_session_of_300_minutes_is_refused(administrator_client, unit):
    long_call = {**ON_A_CALL, "session_minutes": "300"}
    page = _refused(administrator_client, unit, editor_data(pub=[long_call], sub=[DND]))
    assert row_errors(page, "pub-1-session_minutes") == [
        "Teams keeps an app&#x27;s presence session from 5 minutes to 4 hours "
        "(PT5M to PT4H); PT5H is too long."
    ]
    assert selected(page, "pub-1-session_minutes") == "300"


def test_a_reason_code_on_a_state_other_than_unavailable_is_refused(administrator_client, unit):
    working_lunch = {**ON_A_CALL, "reason_code": "lunch"}
    sub_available_break = {
        "availability": "Available",
        "acd_state": "available",
        "reason_code": "break",
    }
    page = _refused(
        administrator_client,
        unit,
        editor_data(pub=[working_lunch], sub=[sub_available_break]),
    )
    assert row_errors(page, "pub-1-reason_code") == [
        "Only Unavailable takes a reason code; Working (on a call) cannot."
    ]
    assert row_errors(page, "sub-2-reason_code") == [
        "Only Unavailable takes a reason code; Available cannot."
    ]


def test_another_units_reason_code_is_refused(administrator_client, unit, other_unit):
    ReasonCode.objects.create(business_unit=other_unit, code="coaching", name="Coaching")
    coaching = {**LUNCH, "reason_code": "coaching"}
    page = _refused(administrator_client, unit, editor_data(pub=[coaching], sub=[DND]))
    assert row_errors(page, "pub-1-reason_code") == [
        "&#x27;coaching&#x27; is not one of this business unit&#x27;s reason codes."
    ]


def test_rows_the_direction_does_not_use_are_refused(administrator_client, unit):
    page = _refused(
        administrator_client,
        unit,
        editor_data(direction="publisher", pub=[AVAILABLE], sub=[DND]),
    )
    assert "A contact center → Teams rule cannot have Teams → contact center rows" in page


def test_a_missing_name_and_empty_tables_are_refused(administrator_client, unit):
    page = _refused(administrator_client, unit, editor_data(name="  "))
    assert "Give the rule a name." in page
    assert "Add at least one contact center → Teams row." in page
    assert "Add at least one Teams → contact center row." in page


def test_a_name_used_by_another_rule_of_the_unit_is_refused(administrator_client, unit):
    PresenceRuleFactory(business_unit=unit, name="Voice agents")
    response = administrator_client.post(new_url(unit), editor_data(pub=[AVAILABLE], sub=[DND]))
    assert "Another rule in this unit has that name." in response.content.decode()
    assert PresenceRule.objects.count() == 1


def test_crafted_values_are_reported_not_crashed_on(administrator_client, unit):
    bogus = {"acd_state": "napping", "action": "Available/Available", "session_minutes": "x"}
    page = _refused(
        administrator_client,
        unit,
        editor_data(name="n" * 101, direction="sideways", pub=[bogus], sub=[DND]),
    )
    assert "Keep the name to 100 characters or fewer." in page
    assert "Choose the direction the rule syncs." in page
    assert row_errors(page, "pub-1-acd_state") == ["&#x27;napping&#x27; is not an ACD state."]
    assert "zero or less is too short" in page


def test_an_invalid_edit_leaves_the_saved_rule_as_it_was(administrator_client, unit):
    rule = PresenceRuleFactory(business_unit=unit, name="Voice agents")
    before = list(rule.publisher_rows.values_list("pk", "acd_state", "availability"))
    unsettable = {**AVAILABLE, "action": "Offline/OffWork"}
    response = administrator_client.post(
        edit_url(rule), editor_data(name="Renamed", pub=[ON_A_CALL, unsettable], sub=[DND])
    )

    assert "Offline/OffWork cannot be set" in response.content.decode()
    rule.refresh_from_db()
    assert rule.name == "Voice agents"
    assert list(rule.publisher_rows.values_list("pk", "acd_state", "availability")) == before
    assert rule.subscriber_rows.get().availability == "Available"


# The editor: rows added, deleted and moved without saving ------------------------------


@pytest.mark.parametrize("htmx", [True, False], ids=["htmx", "plain"])
def test_add_row_adds_a_row_in_place_and_saves_nothing(administrator_client, unit, htmx):
    data = editor_data(pub=[AVAILABLE], sub=[DND], op="add_pub")
    response = administrator_client.post(new_url(unit), data, headers=HTMX if htmx else {})

    page = response.content.decode()
    assert response.status_code == 200
    assert not PresenceRule.objects.exists()
    assert keys(page, "pub") == ["1", "3"]
    assert keys(page, "sub") == ["2"]
    # The new row offers a state no row covers yet, and everything typed is kept.
    assert selected(page, "pub-3-acd_state") == "unavailable"
    assert selected(page, "pub-1-action") == "Available/Available"
    assert "The rule was not saved" not in page
    if htmx:
        assert page.lstrip().startswith('<form id="rule-editor"')
        assert "<html" not in page
    else:
        assert "<html" in page


def test_add_row_in_the_teams_table(administrator_client, unit):
    response = administrator_client.post(
        new_url(unit), editor_data(pub=[AVAILABLE], sub=[DND], op="add_sub"), headers=HTMX
    )
    page = response.content.decode()
    assert keys(page, "sub") == ["2", "3"]
    assert selected(page, "sub-3-availability") == "Available"
    assert selected(page, "sub-3-activity") == ""


@pytest.mark.parametrize("htmx", [True, False], ids=["htmx", "plain"])
def test_delete_row_removes_only_that_row(administrator_client, unit, htmx):
    data = editor_data(pub=[AVAILABLE, ON_A_CALL, LUNCH], sub=[DND], op="del:2")
    response = administrator_client.post(new_url(unit), data, headers=HTMX if htmx else {})
    page = response.content.decode()
    assert keys(page, "pub") == ["1", "3"]
    assert selected(page, "pub-3-reason_code") == "lunch"
    assert not PresenceRule.objects.exists()


@pytest.mark.parametrize("htmx", [True, False], ids=["htmx", "plain"])
def test_up_and_down_move_a_row(administrator_client, unit, htmx):
    headers = HTMX if htmx else {}
    data = editor_data(pub=[AVAILABLE, ON_A_CALL, LUNCH], sub=[DND, IN_A_MEETING], op="up:3")
    page = administrator_client.post(new_url(unit), data, headers=headers).content.decode()
    assert keys(page, "pub") == ["1", "3", "2"]

    data = editor_data(pub=[AVAILABLE, ON_A_CALL, LUNCH], sub=[DND, IN_A_MEETING], op="down:4")
    page = administrator_client.post(new_url(unit), data, headers=headers).content.decode()
    assert keys(page, "sub") == ["5", "4"]
    assert not PresenceRule.objects.exists()


def test_moving_the_first_row_up_changes_nothing(administrator_client, unit):
    data = editor_data(pub=[AVAILABLE, ON_A_CALL], sub=[DND], op="up:1")
    page = administrator_client.post(new_url(unit), data).content.decode()
    assert keys(page, "pub") == ["1", "2"]
    assert re.search(r'aria-label="Move row 1 up" disabled', page)


def test_a_drag_posts_the_new_order_without_an_op(administrator_client, unit):
    data = editor_data(pub=[AVAILABLE, ON_A_CALL, LUNCH], sub=[DND], op="")
    data["pub_key"] = ["3", "1", "2"]  # what sortable.js leaves in the DOM after a drop
    page = administrator_client.post(new_url(unit), data, headers=HTMX).content.decode()
    assert keys(page, "pub") == ["3", "1", "2"]
    assert not PresenceRule.objects.exists()


def test_saving_after_reordering_stores_the_new_order(administrator_client, unit):
    data = editor_data(pub=[AVAILABLE, ON_A_CALL, LUNCH], sub=[DND, IN_A_MEETING])
    data["pub_key"] = ["3", "1", "2"]
    data["sub_key"] = ["5", "4"]
    administrator_client.post(new_url(unit), data)

    rule = PresenceRule.objects.get()
    assert [r.acd_state for r in rule.publisher_rows.all()] == [
        "unavailable",
        "available",
        "working",
    ]
    assert [r.position for r in rule.publisher_rows.all()] == [0, 1, 2]
    assert [r.availability for r in rule.subscriber_rows.all()] == ["Busy", "DoNotDisturb"]


# Delete ------------------------------------------------------------------------------


def test_a_rule_in_use_is_not_deleted_and_the_message_names_the_team(administrator_client, unit):
    rule = PresenceRuleFactory(business_unit=unit, name="Voice agents")
    TeamRuleAssignmentFactory(rule=rule, team=AgentTeamFactory(business_unit=unit, name="Sales"))
    url = reverse("presence:rule_delete", args=[rule.pk])

    assert "Sales" in administrator_client.get(url).content.decode()
    response = administrator_client.post(url)

    assert response.status_code == 409
    assert "Voice agents is assigned to teams Sales. Unassign it first." in (
        response.content.decode()
    )
    assert PresenceRule.objects.filter(pk=rule.pk).exists()
    assert rule.publisher_rows.exists()


def test_a_rule_in_use_by_an_agent_is_not_deleted(administrator_client, unit):
    rule = PresenceRuleFactory(business_unit=unit, name="Voice agents")
    AgentRuleAssignmentFactory(rule=rule, agent=AgentFactory(business_unit=unit, name="Ann Lee"))
    response = administrator_client.post(reverse("presence:rule_delete", args=[rule.pk]))
    assert "1 agents (Ann Lee)" in response.content.decode()
    assert PresenceRule.objects.filter(pk=rule.pk).exists()


def test_an_unused_rule_is_deleted_with_its_rows(administrator_client, unit):
    rule = PresenceRuleFactory(business_unit=unit, name="Voice agents")
    response = administrator_client.post(reverse("presence:rule_delete", args=[rule.pk]))
    assert response.status_code == 302
    assert not PresenceRule.objects.exists()
    assert not PublisherRow.objects.exists()
    assert (
        "Deleted rule Voice agents."
        in administrator_client.get(response["Location"]).content.decode()
    )


# The rule list -----------------------------------------------------------------------


def test_the_list_shows_each_units_rules_with_counts(administrator_client, unit, other_unit):
    rule = PresenceRuleFactory(business_unit=unit, name="Voice agents")
    TeamRuleAssignmentFactory(rule=rule)
    TeamRuleAssignmentFactory(rule=rule)
    AgentRuleAssignmentFactory(rule=rule)
    PresenceRuleFactory(business_unit=other_unit, name="Back office", direction="publisher")
    AgentFactory(business_unit=other_unit)  # no rule at all

    page = administrator_client.get(reverse("presence:rule_list")).content.decode()
    row = re.search(r'<tr data-rule="Voice agents">.*?</tr>', page, re.S).group(0)
    assert "Both directions" in row
    assert "1 contact center → Teams · 1 Teams → contact center" in row
    assert "2 teams · 1 agent" in row
    assert "Contact center → Teams" in re.search(
        r'<tr data-rule="Back office">.*?</tr>', page, re.S
    ).group(0)
    assert f"{new_url(unit)}" in page.replace("&amp;", "&")
    assert "Agents without an effective rule (1)" in page


# Roles -------------------------------------------------------------------------------


def test_a_supervisor_sees_rules_read_only(supervisor_client, unit):
    rule = PresenceRuleFactory(business_unit=unit, name="Voice agents")
    listing = supervisor_client.get(reverse("presence:rule_list"))
    assert listing.status_code == 200
    assert "New rule" not in listing.content.decode()
    nav = re.search(r'<nav class="nav".*?</nav>', listing.content.decode(), re.S).group(0)
    assert ">Rules</a>" in nav

    page = supervisor_client.get(edit_url(rule)).content.decode()
    assert "Save rule" not in page
    assert 'id="rule-editor"' not in page
    assert "Set Available / Available" in page
    assert "Delete rule" not in page
    assert "Assign to teams and users" in page


def test_a_supervisor_cannot_create_change_or_delete_rules(supervisor_client, unit):
    rule = PresenceRuleFactory(business_unit=unit, name="Voice agents")
    data = editor_data(name="Hijacked", pub=[AVAILABLE], sub=[DND])
    assert supervisor_client.get(new_url(unit)).status_code == 403
    assert supervisor_client.post(new_url(unit), data).status_code == 403
    assert supervisor_client.post(edit_url(rule), data).status_code == 403
    assert supervisor_client.post(edit_url(rule), {**data, "op": "add_pub"}).status_code == 403
    delete = reverse("presence:rule_delete", args=[rule.pk])
    assert supervisor_client.get(delete).status_code == 403
    assert supervisor_client.post(delete).status_code == 403
    rule.refresh_from_db()
    assert rule.name == "Voice agents"


def test_anonymous_users_are_sent_to_login(db, unit):
    rule = PresenceRuleFactory(business_unit=unit)
    agent = AgentFactory(business_unit=unit)
    urls = [
        reverse("presence:rule_list"),
        new_url(unit),
        edit_url(rule),
        reverse("presence:rule_delete", args=[rule.pk]),
        reverse("presence:rule_assign", args=[rule.pk]),
        reverse("presence:rule_assign_users", args=[rule.pk]),
        reverse("presence:agent_rule", args=[agent.pk]),
        reverse("presence:unassigned"),
        reverse("presence:reason_codes"),
    ]
    for url in urls:
        response = Client().get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("console:login"))


def test_a_supervisor_may_assign_and_open_the_agent_screen(supervisor_client, unit):
    rule = PresenceRuleFactory(business_unit=unit)
    team = AgentTeamFactory(business_unit=unit)
    agent = AgentFactory(business_unit=unit)
    url = reverse("presence:rule_assign", args=[rule.pk])
    assert supervisor_client.get(url).status_code == 200
    response = supervisor_client.post(url, {"assigned_ids": str(team.pk), "op": "save"})
    assert response.status_code == 302
    assert TeamRuleAssignment.objects.get(team=team).rule == rule

    agent_url = reverse("presence:agent_rule", args=[agent.pk])
    assert supervisor_client.get(agent_url).status_code == 200
    supervisor_client.post(agent_url, {"source": "user", "rule": rule.pk})
    assert AgentRuleAssignment.objects.get(agent=agent).rule == rule


# Reason codes ------------------------------------------------------------------------


def test_an_admin_adds_and_renames_reason_codes(administrator_client, unit):
    url = f"{reverse('presence:reason_codes')}?business_unit={unit.pk}"
    response = administrator_client.post(
        url, {"op": "add", "new-code": "coaching", "new-name": "Coaching"}
    )
    assert response.status_code == 302
    assert unit.reason_codes.get(code="coaching").name == "Coaching"

    administrator_client.post(url, {"op": "rename", "code": "lunch", "name": "Lunch break"})
    assert unit.reason_codes.get(code="lunch").name == "Lunch break"

    again = administrator_client.post(url, {"op": "add", "new-code": "lunch", "new-name": "X"})
    assert "lunch is already a reason code of Voice" in again.content.decode()
    assert unit.reason_codes.get(code="lunch").name == "Lunch break"
    page = administrator_client.get(url).content.decode()
    assert "Coaching" in page and "Lunch break" in page


def test_a_supervisor_sees_reason_codes_but_cannot_change_them(supervisor_client, unit):
    url = f"{reverse('presence:reason_codes')}?business_unit={unit.pk}"
    page = supervisor_client.get(url)
    assert page.status_code == 200
    assert "Training" in page.content.decode()
    assert "Add a reason code" not in page.content.decode()
    response = supervisor_client.post(url, {"op": "rename", "code": "lunch", "name": "Nap"})
    assert response.status_code == 403
    assert unit.reason_codes.get(code="lunch").name == "Lunch"


# Assignment: the dual-list pickers ---------------------------------------------------


def assign_url(rule, step="teams") -> str:
    name = "presence:rule_assign" if step == "teams" else "presence:rule_assign_users"
    return reverse(name, args=[rule.pk])


def options(html: str, select_id: str) -> list[str]:
    select = re.search(rf'<select id="{select_id}".*?</select>', html, re.S).group(0)
    return re.findall(r'<option value="\d+">([^<]+)</option>', select)


def assigned_ids(html: str) -> str:
    return re.search(r'name="assigned_ids" value="([^"]*)"', html).group(1)


@pytest.fixture
def teams(unit):
    return {
        name: AgentTeamFactory(business_unit=unit, name=name)
        for name in ("Sales", "Support", "Billing")
    }


def test_the_teams_picker_moves_teams_and_saves_only_on_save(administrator_client, unit, teams):
    rule = PresenceRuleFactory(business_unit=unit, name="Voice agents")
    url = assign_url(rule)
    page = administrator_client.get(url).content.decode()
    assert options(page, "pick_available") == ["Billing", "Sales", "Support"]
    assert options(page, "pick_assigned") == []

    response = administrator_client.post(
        url,
        {
            "assigned_ids": "",
            "op": "add",
            "pick_available": [teams["Sales"].pk, teams["Support"].pk],
        },
        headers={**HTMX, "HX-Target": "picker-body"},
    )
    body = response.content.decode()
    assert body.lstrip().startswith('<div id="picker-body"')
    assert options(body, "pick_available") == ["Billing"]
    assert options(body, "pick_assigned") == ["Sales", "Support"]
    assert not TeamRuleAssignment.objects.exists()

    body = administrator_client.post(
        url,
        {"assigned_ids": assigned_ids(body), "op": "remove", "pick_assigned": [teams["Sales"].pk]},
    ).content.decode()
    assert options(body, "pick_assigned") == ["Support"]

    response = administrator_client.post(
        url,
        {"assigned_ids": assigned_ids(body), "op": "save", f"priority-{teams['Support'].pk}": "2"},
    )
    assert response.status_code == 302
    assignment = TeamRuleAssignment.objects.get()
    assert (assignment.team, assignment.rule, assignment.priority) == (teams["Support"], rule, 2)


def test_add_all_and_remove_all_follow_each_lists_search(administrator_client, unit, teams):
    rule = PresenceRuleFactory(business_unit=unit)
    url = assign_url(rule)
    body = administrator_client.post(
        url, {"assigned_ids": "", "q_available": "s", "op": "add_all"}
    ).content.decode()
    assert options(body, "pick_assigned") == ["Sales", "Support"]  # "s" matches both, not Billing

    body = administrator_client.post(
        url, {"assigned_ids": assigned_ids(body), "q_assigned": "sup", "op": "remove_all"}
    ).content.decode()
    assert assigned_ids(body) == str(teams["Sales"].pk)
    assert options(body, "pick_assigned") == []  # the assigned list still shows only "sup"
    assert options(body, "pick_available") == ["Billing", "Support"]


def test_the_search_boxes_filter_each_list(administrator_client, unit, teams):
    rule = PresenceRuleFactory(business_unit=unit)
    body = administrator_client.post(
        assign_url(rule),
        {
            "assigned_ids": f"{teams['Sales'].pk},{teams['Billing'].pk}",
            "q_available": "sup",
            "q_assigned": "bil",
            "op": "filter",
        },
        headers={**HTMX, "HX-Target": "picker-body"},
    ).content.decode()
    assert options(body, "pick_available") == ["Support"]
    assert options(body, "pick_assigned") == ["Billing"]


def test_a_team_of_another_rule_is_offered_and_moved(administrator_client, unit, teams):
    old = PresenceRuleFactory(business_unit=unit, name="Old rule")
    TeamRuleAssignmentFactory(rule=old, team=teams["Sales"], priority=5)
    rule = PresenceRuleFactory(business_unit=unit, name="New rule")
    page = administrator_client.get(assign_url(rule)).content.decode()
    assert "Sales · now Old rule" in options(page, "pick_available")

    administrator_client.post(
        assign_url(rule),
        {
            "assigned_ids": str(teams["Sales"].pk),
            "op": "save",
            f"priority-{teams['Sales'].pk}": "5",
        },
    )
    assert TeamRuleAssignment.objects.get(team=teams["Sales"]).rule == rule


def test_a_moved_option_says_what_saving_will_do_not_what_was(administrator_client, unit, teams):
    old = PresenceRuleFactory(business_unit=unit, name="Old rule")
    TeamRuleAssignmentFactory(rule=old, team=teams["Sales"])
    rule = PresenceRuleFactory(business_unit=unit, name="New rule")

    body = administrator_client.post(
        assign_url(rule),
        {"assigned_ids": "", "op": "add", "pick_available": [teams["Sales"].pk]},
        headers={**HTMX, "HX-Target": "picker-body"},
    ).content.decode()
    assert options(body, "pick_assigned") == ["Sales · moves from Old rule"]

    body = administrator_client.post(
        assign_url(rule),
        {"assigned_ids": assigned_ids(body), "op": "remove", "pick_assigned": [teams["Sales"].pk]},
        headers={**HTMX, "HX-Target": "picker-body"},
    ).content.decode()
    assert "Sales · now Old rule" in options(body, "pick_available")


def test_priorities_are_edited_and_a_bad_one_saves_nothing(administrator_client, unit, teams):
    rule = PresenceRuleFactory(business_unit=unit)
    TeamRuleAssignmentFactory(rule=rule, team=teams["Sales"], priority=1)
    url = assign_url(rule)
    ids = f"{teams['Sales'].pk},{teams['Support'].pk}"

    response = administrator_client.post(
        url,
        {
            "assigned_ids": ids,
            "op": "save",
            f"priority-{teams['Sales'].pk}": "first",
            f"priority-{teams['Support'].pk}": "3",
        },
    )
    assert "A priority is a whole number from 0 to 32767" in response.content.decode()
    assert 'value="first"' in response.content.decode()
    assert list(TeamRuleAssignment.objects.values_list("team__name", "priority")) == [("Sales", 1)]

    administrator_client.post(
        url,
        {
            "assigned_ids": ids,
            "op": "save",
            f"priority-{teams['Sales'].pk}": "",
            f"priority-{teams['Support'].pk}": "3",
        },
    )
    assert dict(TeamRuleAssignment.objects.values_list("team__name", "priority")) == {
        "Sales": None,
        "Support": 3,
    }


def test_the_users_picker_assigns_agents_as_their_own_rule(administrator_client, unit):
    rule = PresenceRuleFactory(business_unit=unit, name="Voice agents")
    ann = AgentFactory(business_unit=unit, name="Ann Lee")
    bob = AgentFactory(business_unit=unit, name="Bob Roy")
    url = assign_url(rule, "users")
    page = administrator_client.get(url).content.decode()
    assert options(page, "pick_available") == [
        f"Ann Lee ({ann.external_id})",
        f"Bob Roy ({bob.external_id})",
    ]

    body = administrator_client.post(
        url, {"assigned_ids": "", "op": "add", "pick_available": [bob.pk]}
    ).content.decode()
    administrator_client.post(url, {"assigned_ids": assigned_ids(body), "op": "save"})
    assert list(AgentRuleAssignment.objects.values_list("agent__name", "rule__name")) == [
        ("Bob Roy", "Voice agents")
    ]

    administrator_client.post(url, {"assigned_ids": "", "op": "save"})
    assert not AgentRuleAssignment.objects.exists()


@pytest.mark.parametrize("step", ["teams", "users"])
def test_another_units_teams_or_agents_are_refused(administrator_client, unit, other_unit, step):
    rule = PresenceRuleFactory(business_unit=unit)
    mine = (AgentTeamFactory if step == "teams" else AgentFactory)(business_unit=unit)
    foreign = (AgentTeamFactory if step == "teams" else AgentFactory)(business_unit=other_unit)

    page = administrator_client.get(assign_url(rule, step)).content.decode()
    assert f'<option value="{foreign.pk}">' not in page

    response = administrator_client.post(
        assign_url(rule, step), {"assigned_ids": f"{mine.pk},{foreign.pk}", "op": "save"}
    )
    assert response.status_code == 200
    noun = "teams" if step == "teams" else "agents"
    assert f"A rule can only be assigned to {noun} of its own business unit." in (
        response.content.decode()
    )
    assert not TeamRuleAssignment.objects.exists()
    assert not AgentRuleAssignment.objects.exists()


def test_garbled_ids_and_priorities_are_refused_politely(administrator_client, unit, teams):
    rule = PresenceRuleFactory(business_unit=unit)
    url = assign_url(rule)
    sales = teams["Sales"].pk
    body = administrator_client.post(
        url, {"assigned_ids": f"²,99999999999999999999,abc,{sales}", "op": "filter"}
    ).content.decode()
    assert assigned_ids(body) == str(sales)

    response = administrator_client.post(
        url, {"assigned_ids": str(sales), "op": "save", f"priority-{sales}": "²"}
    )
    assert "A priority is a whole number" in response.content.decode()
    assert not TeamRuleAssignment.objects.exists()
    assert (
        administrator_client.get(f"{reverse('presence:rule_create')}?business_unit=²").status_code
        == 404
    )


# One agent's effective rule and preview ----------------------------------------------


def agent_url(agent, **query) -> str:
    url = reverse("presence:agent_rule", args=[agent.pk])
    return url + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")


def source(html: str) -> str:
    return re.sub(
        r"<[^>]+>", "", re.search(r"<dd data-source=[^>]*>(.*?)</dd>", html, re.S).group(1)
    )


def test_an_agents_own_rule_wins_over_its_teams(administrator_client, unit):
    sales = AgentTeamFactory(business_unit=unit, name="Sales")
    TeamRuleAssignmentFactory(
        rule=PresenceRuleFactory(business_unit=unit, name="Team rule"), team=sales
    )
    agent = AgentFactory(business_unit=unit, teams=[sales])

    page = administrator_client.get(agent_url(agent)).content.decode()
    assert source(page) == "Team assigned rule: Sales"
    assert "Team rule: from team Sales." in page

    own = PresenceRuleFactory(business_unit=unit, name="Own rule")
    administrator_client.post(agent_url(agent), {"source": "user", "rule": own.pk})
    page = administrator_client.get(agent_url(agent)).content.decode()
    assert source(page) == "User assigned rule"
    assert "Own rule: the agent&#x27;s own rule." in page

    administrator_client.post(agent_url(agent), {"source": "team"})
    assert not AgentRuleAssignment.objects.exists()
    assert source(administrator_client.get(agent_url(agent)).content.decode()) == (
        "Team assigned rule: Sales"
    )


def test_two_teams_with_different_rules_conflict_until_a_priority_settles_it(
    administrator_client, unit
):
    sales = AgentTeamFactory(business_unit=unit, name="Sales")
    support = AgentTeamFactory(business_unit=unit, name="Support")
    TeamRuleAssignmentFactory(
        rule=PresenceRuleFactory(business_unit=unit, name="Sales rule"), team=sales
    )
    support_rule = PresenceRuleFactory(business_unit=unit, name="Support rule")
    TeamRuleAssignmentFactory(rule=support_rule, team=support)
    agent = AgentFactory(business_unit=unit, teams=[sales, support])

    page = administrator_client.get(agent_url(agent)).content.decode()
    assert source(page) == "Conflict between teams: Sales, Support"
    assert "No rule: teams Sales and Support have different rules" in page
    assert "No rule applies to this agent: nothing is synced." in page

    # Give Support the better priority on the rule's Teams step.
    administrator_client.post(
        assign_url(support_rule),
        {"assigned_ids": str(support.pk), "op": "save", f"priority-{support.pk}": "1"},
    )
    page = administrator_client.get(agent_url(agent)).content.decode()
    assert source(page) == "Team assigned rule: Support"


def test_an_agent_without_any_rule_is_told_so(administrator_client, unit):
    agent = AgentFactory(business_unit=unit)
    page = administrator_client.get(agent_url(agent)).content.decode()
    assert source(page) == "No rule"
    assert "No rule: neither the agent nor its teams have one" in page
    assert "Agent-to-agent (internal) calls never trigger rules." in page


@pytest.fixture
def two_way_rule(administrator_client, unit):
    data = editor_data(pub=[AVAILABLE, ON_A_CALL, LUNCH], sub=[IN_A_MEETING, DND])
    administrator_client.post(new_url(unit), data)
    return PresenceRule.objects.get(name="Voice agents")


def test_the_preview_says_what_each_direction_would_do(administrator_client, unit, two_way_rule):
    agent = AgentFactory(business_unit=unit)
    AgentRuleAssignment.objects.create(agent=agent, rule=two_way_rule)

    page = administrator_client.get(
        agent_url(agent, acd_state="working", availability="Busy", activity="InAMeeting")
    ).content.decode()
    assert "When the agent becomes Working (on a call):" in page
    assert "Set Teams presence to Busy / InACall for 1 hour" in page
    assert "When Teams shows Busy / InAMeeting:" in page
    assert "ACD state Unavailable (Meeting)" in page

    partial = administrator_client.get(
        agent_url(
            agent,
            acd_state="unavailable",
            reason_code="lunch",
            availability="DoNotDisturb",
            activity="Presenting",
        ),
        headers={**HTMX, "HX-Target": "rule-preview"},
    ).content.decode()
    assert partial.lstrip().startswith('<div id="rule-preview"')
    assert "Clear ccbridge&#x27;s presence session" in partial
    assert "ACD state Unavailable" in partial

    page = administrator_client.get(
        agent_url(agent, acd_state="wrap_up", availability="Away", activity="Away")
    ).content.decode()
    assert "No row for Wrap-up: Teams presence is left as it is" in page
    assert "No row for Away / Away: the ACD state is left as it is" in page


def test_the_assign_form_offers_only_the_units_rules(administrator_client, unit, other_unit):
    PresenceRuleFactory(business_unit=unit, name="Voice agents")
    foreign = PresenceRuleFactory(business_unit=other_unit, name="Back office rule")
    agent = AgentFactory(business_unit=unit)
    page = administrator_client.get(agent_url(agent)).content.decode()
    assert "Voice agents" in page
    assert "Back office rule" not in page

    response = administrator_client.post(agent_url(agent), {"source": "user", "rule": foreign.pk})
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert not AgentRuleAssignment.objects.exists()


# Agents without an effective rule ------------------------------------------------------


def test_the_unassigned_list_shows_agents_without_a_rule_or_in_conflict(
    administrator_client, unit, other_unit
):
    sales = AgentTeamFactory(business_unit=unit, name="Sales")
    support = AgentTeamFactory(business_unit=unit, name="Support")
    TeamRuleAssignmentFactory(rule=PresenceRuleFactory(business_unit=unit), team=sales)
    TeamRuleAssignmentFactory(
        rule=PresenceRuleFactory(business_unit=unit), team=support, priority=None
    )
    AgentFactory(business_unit=unit, name="Covered by team", teams=[sales])
    AgentFactory(business_unit=unit, name="In conflict", teams=[sales, support])
    AgentFactory(business_unit=unit, name="No team")
    AgentRuleAssignmentFactory(
        agent=AgentFactory(business_unit=unit, name="Own rule", teams=[sales, support]),
        rule=PresenceRuleFactory(business_unit=unit),
    )
    AgentFactory(business_unit=other_unit, name="Elsewhere")

    page = administrator_client.get(reverse("presence:unassigned")).content.decode()
    names = re.findall(r'<td><a href="/agents/\d+/rule/">([^<]+)</a>', page)
    assert names == ["Elsewhere", "In conflict", "No team"]
    assert "Conflict" in page

    page = administrator_client.get(
        f"{reverse('presence:unassigned')}?business_unit={unit.pk}"
    ).content.decode()
    assert re.findall(r'<td><a href="/agents/\d+/rule/">([^<]+)</a>', page) == [
        "In conflict",
        "No team",
    ]


def test_the_unassigned_list_is_paginated(administrator_client, unit):
    for n in range(55):
        AgentFactory(business_unit=unit, name=f"Agent {n:02d}")
    page = administrator_client.get(reverse("presence:unassigned")).content.decode()
    assert len(re.findall(r'href="/agents/\d+/rule/"', page)) == 50
    assert "Page 1 of 2 (55)" in page
    second = administrator_client.get(
        f"{reverse('presence:unassigned')}?page=2",
        headers={**HTMX, "HX-Target": "unassigned-table"},
    ).content.decode()
    assert second.lstrip().startswith('<div id="unassigned-table"')
    assert len(re.findall(r'href="/agents/\d+/rule/"', second)) == 5
