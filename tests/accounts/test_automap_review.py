"""The auto-map review of a big unit: proposals grouped by outcome with counts, one
group at a time, searchable and paged; ticks kept across pages, whole groups ticked at
once; and a confirm step that says what mapping will do to the agents' ACD state."""

import re

import pytest
from django.urls import reverse

from accounts.models import Agent, AgentMapping, BusinessUnit, DirectoryUser
from accounts.views import PAGE_SIZE
from presence.models import PresenceRule
from presence.rules import services as presence_services
from tests.accounts.factories import AgentTeamFactory

CONFIDENT, NAME_ONLY, AMBIGUOUS, NO_MATCH = 600, 100, 60, 40  # 800 agents


@pytest.fixture
def unit(db) -> BusinessUnit:
    """A unit of 800 unmapped agents: 600 match a user by mail, 100 only by name, 60 share
    30 addresses two by two, 40 match nobody."""
    unit = BusinessUnit.objects.create(name="Voice", code="voice")
    users, agents = [], []
    for n in range(CONFIDENT):
        users.append(_user(f"c{n}", f"Person C{n:03d}", f"conf{n:03d}@contoso.example"))
        agents.append(_agent(unit, f"c{n}", f"Confident {n:03d}", f"conf{n:03d}@contoso.example"))
    for n in range(NAME_ONLY):
        users.append(_user(f"n{n}", f"Named {n:03d}", f"named{n:03d}@contoso.example"))
        agents.append(_agent(unit, f"n{n}", f"Named {n:03d}", f"named{n:03d}@cc.example"))
    for n in range(AMBIGUOUS // 2):
        users.append(_user(f"s{n}", f"Shared {n:03d}", f"shared{n:03d}@contoso.example"))
        for twin in "ab":
            agents.append(
                _agent(unit, f"a{n}{twin}", f"Twin {n:03d}{twin}", f"shared{n:03d}@contoso.example")
            )
    for n in range(NO_MATCH):
        agents.append(_agent(unit, f"x{n}", f"Nobody {n:03d}", f"nobody{n:03d}@cc.example"))
    DirectoryUser.objects.bulk_create(users)
    Agent.objects.bulk_create(agents)
    return unit


def _user(key: str, name: str, mail: str) -> DirectoryUser:
    return DirectoryUser(
        graph_id=f"user-{key}", display_name=name, mail=mail, user_principal_name=mail
    )


def _agent(unit: BusinessUnit, key: str, name: str, email: str) -> Agent:
    return Agent(external_id=f"ACD-{key}", name=name, email=email, business_unit=unit)


def review(client, unit, **params) -> str:
    return client.get(reverse("accounts:automap", args=[unit.pk]), params).content.decode()


def rows(page: str) -> list[str]:
    """The agent names of the listed proposals."""
    return re.findall(
        r'<tr class="proposal-\w+" data-agent="[^"]*">\s*<td>.*?</td>\s*<td>([^<]+)<', page, re.S
    )


def shown_ids(page: str) -> list[str]:
    return re.findall(r'name="shown" value="(\d+)"', page)


def ticked(page: str) -> str:
    return re.search(r'<p id="automap-selection"[^>]*>(.*?)</p>', page, re.S).group(1).strip()


def test_the_review_is_grouped_by_outcome_with_counts_and_shows_one_page(supervisor_client, unit):
    page = review(supervisor_client, unit)

    for label, count in [
        ("Confident matches", CONFIDENT),
        ("Name only", NAME_ONLY),
        ("Ambiguous", AMBIGUOUS),
        ("No match", NO_MATCH),
    ]:
        assert f"{label} ({count})" in page
    listed = rows(page)
    assert len(listed) == PAGE_SIZE
    assert all(name.startswith("Confident ") for name in listed)
    assert f"Page 1 of {-(-CONFIDENT // PAGE_SIZE)}" in page
    # Only the confident matches are ticked before the admin looks.
    assert ticked(page) == f"{CONFIDENT} agents ticked for mapping."
    assert len(page) < 200_000  # one page, not 800 rows


def test_a_group_is_paged_and_searched_by_name_or_email(supervisor_client, unit):
    first = review(supervisor_client, unit, group="ambiguous")
    last = review(supervisor_client, unit, group="ambiguous", page=2)

    assert len(rows(first)) == PAGE_SIZE
    assert len(rows(last)) == AMBIGUOUS - PAGE_SIZE
    assert set(rows(first)).isdisjoint(rows(last))
    assert all(name.startswith("Twin ") for name in rows(first) + rows(last))

    assert rows(review(supervisor_client, unit, group="none", q="nobody007")) == ["Nobody 007"]
    by_name = review(supervisor_client, unit, q="Named 04")
    # A search counts every group's hits and opens the first group that has any.
    assert "Name only (10)" in by_name and "Confident matches (0)" in by_name
    assert rows(by_name) == [f"Named {n:03d}" for n in range(40, 50)]


def test_ticks_are_kept_across_pages_and_a_whole_group_is_ticked_at_once(supervisor_client, unit):
    url = reverse("accounts:automap", args=[unit.pk])
    page = review(supervisor_client, unit)
    shown = shown_ids(page)
    assert len(shown) == PAGE_SIZE

    # Untick one agent on page 1, then go to page 2: the tick stays off.
    supervisor_client.post(
        url, {"group": "confident", "page": "1", "shown": shown, "include": shown[1:], "goto": "2"}
    )
    second = review(supervisor_client, unit, group="confident", page=2)
    assert ticked(second) == f"{CONFIDENT - 1} agents ticked for mapping."
    back = review(supervisor_client, unit, group="confident", page=1)
    assert f'value="{shown[0]}" aria-label="Include Confident 000">' in back

    supervisor_client.post(url, {"group": "name", "select": "group"})
    named = review(supervisor_client, unit, group="name")
    assert ticked(named) == f"{CONFIDENT - 1 + NAME_ONLY} agents ticked for mapping."

    confirm = supervisor_client.post(url, {"group": "name", "step": "confirm"}).content.decode()
    total = CONFIDENT - 1 + NAME_ONLY
    assert f"Map {total} agents in Voice?" in confirm
    assert len(re.findall(r'name="include"', confirm)) == total

    applied = supervisor_client.post(
        url, {"step": "apply", "include": re.findall(r'name="include" value="(\d+)"', confirm)}
    )
    assert applied.status_code == 302
    assert AgentMapping.objects.count() == total
    assert not AgentMapping.objects.filter(agent_id=shown[0]).exists()


def test_unticking_a_group_unticks_all_its_pages_and_start_over_undoes_it(supervisor_client, unit):
    url = reverse("accounts:automap", args=[unit.pk])

    supervisor_client.post(url, {"group": "confident", "select": "group_none"})

    assert ticked(review(supervisor_client, unit)) == "0 agents ticked for mapping."
    supervisor_client.post(url, {"select": "reset"})
    assert ticked(review(supervisor_client, unit)) == f"{CONFIDENT} agents ticked for mapping."


def test_a_tick_over_htmx_answers_with_the_new_count(supervisor_client, unit):
    url = reverse("accounts:automap", args=[unit.pk])
    shown = shown_ids(review(supervisor_client, unit))

    response = supervisor_client.post(
        url,
        {"step": "tick", "group": "confident", "shown": shown, "include": shown[3:]},
        headers={"HX-Request": "true"},
    )

    assert response.content.decode().strip().startswith('<p id="automap-selection"')
    assert f"{CONFIDENT - 3} agents ticked for mapping." in response.content.decode()


def test_the_confirm_step_says_what_happens_to_the_acd(supervisor_client, unit):
    keep = PresenceRule.objects.create(name="Demo", business_unit=unit)
    apply = PresenceRule.objects.create(
        name="Inbound", business_unit=unit, on_mapping=PresenceRule.OnMapping.APPLY
    )
    for rule, agents in [(keep, "Confident 00"), (apply, "Confident 01")]:
        team = AgentTeamFactory(business_unit=unit)
        presence_services.team_rule_set(actor=None, team=team, rule=rule, priority=None)
        for agent in Agent.objects.filter(name__startswith=agents):
            agent.teams.add(team)
    url = reverse("accounts:automap", args=[unit.pk])

    page = supervisor_client.post(url, {"step": "confirm"}).content.decode()

    assert f"{CONFIDENT} agents will be mapped." in page
    assert (
        "10 agents: their ACD state will not change until their Teams presence changes "
        "(rule Demo: on mapping, keep the ACD state)."
    ) in page
    assert (
        "10 agents: their first Teams presence will be sent to the ACD "
        "(rule Inbound: on mapping, apply the first Teams presence)."
    ) in page
    assert f"{CONFIDENT - 20} agents have no rule that follows Teams" in page
