"""The live presence board (filters, the polled table partial, roles) and agent history."""

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import AgentTeam
from presence.sync_models import AgentPresence, SyncRecord
from presence.to_acd.sync import MANUAL_ADVICE
from tests.accounts.factories import AgentFactory, AgentMappingFactory
from tests.factories import UserFactory

BOARD = reverse("sync:board")
HTMX_TABLE = {"HX-Request": "true", "HX-Target": "board-table"}


def _history(agent) -> str:
    return reverse("sync:agent_history", args=[agent.pk])


@pytest.fixture
def floor(unit, other_unit):
    """Agents in two units and two teams, in different states on both sides."""
    day = AgentTeam.objects.create(business_unit=unit, name="Day")
    night = AgentTeam.objects.create(business_unit=unit, name="Night")
    now = timezone.now()

    def agent(name, team, unit=unit, **presence):
        mapping = AgentMappingFactory(
            agent__name=name, agent__business_unit=unit, directory_user__display_name=f"{name} T"
        )
        if team is not None:
            mapping.agent.teams.add(team)
        if presence:
            AgentPresence.objects.create(agent=mapping.agent, **presence)
        return mapping.agent

    return {
        "alice": agent(
            "Alice Adams", day, acd_state="working", acd_changed_at=now - timedelta(minutes=3),
            teams_availability="Busy", teams_activity="InACall", teams_changed_at=now,
            published_availability="Busy", published_activity="InACall",
            session_expires_at=now + timedelta(hours=4),
        ),
        "bob": agent(
            "Bob Brown", night, acd_state="unavailable", acd_reason="lunch",
            acd_changed_at=now, teams_availability="DoNotDisturb",
            teams_activity="DoNotDisturb", manual_in_teams=True,
        ),
        "carol": agent(
            "Carol Clark", None, unit=other_unit, acd_state="available",
            teams_availability="Available", teams_activity="Available",
        ),
        "dave": agent("Dave Dunn", day),
        "erin": AgentFactory(name="Erin Evans", business_unit=unit),
    }  # fmt: skip


def _names(response) -> list[str]:
    assert response.status_code == 200, response.content
    rows = response.context["rows"]
    return [row["agent"].name for row in rows]


def test_the_board_shows_both_sides_side_by_side(administrator_client, floor):
    response = administrator_client.get(BOARD)

    assert _names(response) == [
        "Alice Adams", "Bob Brown", "Carol Clark", "Dave Dunn", "Erin Evans",
    ]  # fmt: skip
    page = response.content.decode()
    assert "Working (on a call)" in page
    assert "Unavailable (Lunch)" in page
    assert "ccbridge set Busy / InACall until" in page
    assert "Manual status in Teams" in page
    assert MANUAL_ADVICE in page
    assert "Not mapped to a Teams user" in page
    assert f'href="{_history(floor["alice"])}"' in page


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"q": "bob"}, ["Bob Brown"]),
        ({"q": "alice adams t"}, ["Alice Adams"]),  # the Teams user's name
        ({"acd_state": "working"}, ["Alice Adams"]),
        ({"acd_state": "none"}, ["Dave Dunn", "Erin Evans"]),
        ({"availability": "Available"}, ["Carol Clark"]),
        ({"manual": "on"}, ["Bob Brown"]),
        ({"team": "DAY"}, ["Alice Adams", "Dave Dunn"]),
        ({"unit": "OTHER"}, ["Carol Clark"]),
        ({"unit": "OTHER", "acd_state": "working"}, []),
    ],
)
def test_the_board_filters(administrator_client, floor, unit, other_unit, query, expected):
    if query.get("team") == "DAY":
        query = {**query, "team": AgentTeam.objects.get(name="Day").pk}
    if query.get("unit") == "OTHER":
        query = {key: value for key, value in query.items() if key != "unit"}
        query["business_unit"] = other_unit.pk

    assert _names(administrator_client.get(BOARD, query)) == expected


def test_the_table_polls_itself_with_the_filters_current_values(administrator_client, floor):
    page = administrator_client.get(BOARD, {"q": "a"}).content.decode()

    assert '<form id="board-filters"' in page
    assert 'hx-trigger="every 3s"' in page
    assert 'hx-include="#board-filters"' in page
    assert 'hx-vals=\'{"page": "1"}\'' in page
    # A search waits for a refresh on its way; a refresh is skipped during a search.
    assert 'hx-sync="this:queue last"' in page
    assert 'hx-sync="#board-filters:drop"' in page


def test_the_poll_gets_only_the_table(administrator_client, floor):
    response = administrator_client.get(BOARD, {"acd_state": "working"}, headers=HTMX_TABLE)

    body = response.content.decode()
    assert body.lstrip().startswith('<div id="board-table"')
    assert "<html" not in body
    assert 'id="board-filters"' not in body
    assert 'hx-trigger="every 3s"' in body  # the swapped table keeps polling
    assert _names(response) == ["Alice Adams"]


def test_the_board_pages_and_the_pager_keeps_the_filters(administrator_client, unit):
    for n in range(55):
        AgentFactory(name=f"Agent {n:02d}", business_unit=unit)

    first = administrator_client.get(BOARD, {"q": "agent"})
    second = administrator_client.get(BOARD, {"q": "agent", "page": 2}, headers=HTMX_TABLE)

    assert len(_names(first)) == 50
    assert "?q=agent&amp;page=2" in first.content.decode()
    assert _names(second) == [f"Agent {n}" for n in range(50, 55)]
    assert 'hx-vals=\'{"page": "2"}\'' in second.content.decode()


def test_supervisors_watch_the_board_and_histories(supervisor_client, floor):
    """Needs presence.view_agentpresence and presence.view_syncrecord in
    console/roles.py SUPERVISOR_PERMISSIONS."""
    assert supervisor_client.get(BOARD).status_code == 200
    assert supervisor_client.get(_history(floor["alice"])).status_code == 200


def test_people_without_a_role_are_refused(floor):
    client = Client()
    client.force_login(UserFactory())
    assert client.get(BOARD).status_code == 403
    assert client.get(_history(floor["alice"])).status_code == 403
    assert Client().get(BOARD).status_code == 302  # to the login page


def test_the_history_lists_each_step_newest_first(administrator_client, floor):
    alice = floor["alice"]
    SyncRecord.objects.create(
        agent=alice, direction=SyncRecord.Direction.TO_TEAMS, from_value="Working (on a call)",
        to_value="Busy / InACall", rule_name="Voice standard", row_index=1, latency_ms=84,
        outcome=SyncRecord.Outcome.APPLIED, detail="Session of PT4H.",
    )  # fmt: skip
    SyncRecord.objects.create(
        agent=alice, direction=SyncRecord.Direction.TO_ACD, from_value="Busy / InACall",
        outcome=SyncRecord.Outcome.SKIPPED_ECHO, detail="Teams shows the status ccbridge set.",
    )  # fmt: skip
    SyncRecord.objects.create(
        agent=floor["bob"], direction=SyncRecord.Direction.TO_TEAMS, from_value="Other agent",
        outcome=SyncRecord.Outcome.FAILED,
    )  # fmt: skip

    response = administrator_client.get(_history(alice))

    page = response.content.decode()
    assert [r.outcome for r in response.context["page"]] == ["skipped_echo", "applied"]
    assert "Working (on a call) → Busy / InACall" in page
    assert "Voice standard, row 2" in page  # rows are shown 1-based
    assert "84 ms" in page
    assert "Contact center → Teams" in page and "Teams → contact center" in page
    assert "Skipped: Teams shows what the console set" in page
    assert "Other agent" not in page


def test_the_history_pages_through_the_partial(administrator_client, floor):
    alice = floor["alice"]
    SyncRecord.objects.bulk_create(
        SyncRecord(agent=alice, direction="to_teams", outcome="applied", detail=f"step {n}")
        for n in range(60)
    )

    response = administrator_client.get(
        _history(alice), {"page": 2}, headers={"HX-Request": "true", "HX-Target": "history-table"}
    )

    body = response.content.decode()
    assert body.lstrip().startswith('<div id="history-table"')
    assert len(response.context["page"]) == 10
    assert administrator_client.get(reverse("sync:agent_history", args=[99999])).status_code == 404
