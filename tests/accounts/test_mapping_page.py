"""The mapping screen at more than one page: a fixed number of queries whatever the
filter, the search or the page, and the rows each page lists."""

import re

import pytest
from django.urls import reverse

from accounts.matching import MatchStatus
from accounts.models import Agent, AgentMapping, DirectoryUser
from accounts.views import PAGE_SIZE
from tests.accounts.factories import AgentTeamFactory, BusinessUnitFactory

# Ten for the page and the shell, one for the mailboxes' secret-expiry bars.
MAX_QUERIES = 11
PER_KIND = PAGE_SIZE + 5  # every filter below selects more than one page


@pytest.fixture
def crowd(db):
    """PER_KIND agents of each kind, in two units, some in two teams: mapped to an enabled,
    a disabled and a removed user; unmapped; ambiguous; Teams integration off."""
    voice = BusinessUnitFactory(name="Voice", code="voice")
    chat = BusinessUnitFactory(name="Chat", code="chat")
    teams = [AgentTeamFactory(business_unit=voice, name=name) for name in ("Early", "Late")]
    kinds = ["mapped", "disabled", "removed", "unmapped", "ambiguous", "teams_off"]
    agents = Agent.objects.bulk_create(
        Agent(
            external_id=f"ACD-{kind}-{n:03d}",
            name=f"Agent {kind} {n:03d}",
            email=f"{kind}.{n}@contact-center.example",
            business_unit=chat if kind == "teams_off" else voice,
            teams_enabled=kind != "teams_off",
            automap_status=MatchStatus.AMBIGUOUS if kind == "ambiguous" else "",
        )
        for kind in kinds
        for n in range(PER_KIND)
    )
    mapped = [a for a in agents if a.external_id.split("-")[1] in kinds[:3]]
    users = DirectoryUser.objects.bulk_create(
        DirectoryUser(
            graph_id=f"user-{agent.external_id}",
            display_name=f"Person {agent.external_id}",
            mail=f"{agent.external_id.lower()}@contoso.example",
            user_principal_name=f"{agent.external_id.lower()}@contoso.onmicrosoft.com",
            account_enabled="-disabled-" not in agent.external_id,
            removed_reason="deleted" if "-removed-" in agent.external_id else "",
        )
        for agent in mapped
    )
    AgentMapping.objects.bulk_create(
        AgentMapping(agent=agent, directory_user=user, method=AgentMapping.Method.AUTO)
        for agent, user in zip(mapped, users, strict=True)
    )
    Agent.teams.through.objects.bulk_create(
        Agent.teams.through(agent_id=agent.pk, agentteam_id=team.pk)
        for agent in agents[: 2 * PER_KIND]
        for team in teams
    )
    return {"voice": voice, "chat": chat}


SELECTIONS = {
    "everyone": ({}, 6 * PER_KIND),
    "mapped": ({"status": "mapped"}, PER_KIND),
    "unmapped": ({"status": "unmapped"}, 3 * PER_KIND),
    "ambiguous": ({"status": "ambiguous"}, PER_KIND),
    "user disabled": ({"status": "disabled"}, PER_KIND),
    "user removed": ({"status": "removed"}, PER_KIND),
    "Teams off": ({"status": "teams_off"}, PER_KIND),
    "by name": ({"q": "agent"}, 6 * PER_KIND),
    "by email": ({"q": "Teams_Off."}, PER_KIND),
    "by UPN": ({"q": "onmicrosoft"}, 3 * PER_KIND),
    "by UPN and status": ({"q": "onmicrosoft", "status": "removed"}, PER_KIND),
}


@pytest.mark.parametrize("page", ["1", "2"])
@pytest.mark.parametrize("selection", list(SELECTIONS))
def test_every_filter_and_search_lists_a_page_in_a_fixed_number_of_queries(
    supervisor_client, crowd, django_assert_max_num_queries, selection, page
):
    params, matching = SELECTIONS[selection]
    with django_assert_max_num_queries(MAX_QUERIES):
        response = supervisor_client.get(reverse("accounts:mapping"), params | {"page": page})

    html = response.content.decode()
    listed = html.count("<tr data-agent=")
    assert listed == (PAGE_SIZE if page == "1" else min(PAGE_SIZE, matching - PAGE_SIZE))
    assert f"({matching})" in html, "the pager counts every matching agent"


@pytest.mark.parametrize("unit", ["voice", "chat"])
def test_the_unit_filter_and_the_htmx_partial_stay_within_the_query_budget(
    supervisor_client, crowd, django_assert_max_num_queries, unit
):
    params = {"business_unit": crowd[unit].pk, "page": "2"}
    with django_assert_max_num_queries(MAX_QUERIES):
        response = supervisor_client.get(
            reverse("accounts:mapping"),
            params,
            headers={"HX-Request": "true", "HX-Target": "mapping-table"},
        )

    html = response.content.decode()
    assert html.strip().startswith('<div id="mapping-table">')
    assert html.count("<tr data-agent=") == (PAGE_SIZE if unit == "voice" else PER_KIND - PAGE_SIZE)


def test_team_names_come_with_the_page(supervisor_client, crowd):
    html = supervisor_client.get(reverse("accounts:mapping"), {"q": "Agent mapped 000"}).content
    assert "Early, Late" in html.decode()


def test_every_page_lists_its_agents_in_name_order_the_last_ones_too(supervisor_client, crowd):
    names = list(Agent.objects.order_by("name", "id").values_list("name", flat=True))
    pages = [names[start : start + PAGE_SIZE] for start in range(0, len(names), PAGE_SIZE)]

    for number, expected in enumerate(pages, start=1):
        html = supervisor_client.get(reverse("accounts:mapping"), {"page": number}).content
        listed = re.findall(r'aria-label="Select ([^"]+)"', html.decode())
        assert listed == expected, f"page {number}"
