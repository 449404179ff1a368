"""Mapping agents to Teams users in a real browser: auto-map review, then a manual map."""

from playwright.sync_api import Page, expect

from accounts.matching import MatchStatus
from accounts.models import AgentMapping, BusinessUnit
from accounts.services import automap_proposals
from accounts.sync import directory_sync_run
from integrations.models import IntegrationAccount
from presence.models import PresenceRule
from presence.rules.services import team_rule_set
from tests.accounts.factories import AgentFactory, AgentTeamFactory, DirectoryUserFactory
from tests.browser.test_login import sign_in
from tests.integrations.factories import IntegrationAccountFactory


def _account(sim_tenant) -> IntegrationAccount:
    return IntegrationAccountFactory.for_tenant(sim_tenant, name="Fabrikam Teams")


def _agents_matching_in_varied_ways(unit: BusinessUnit, users: list[dict]) -> dict:
    """Agents built from the tenant's users: by mail, UPN, other mail and proxy address,
    a pair sharing one address (ambiguous), one nobody matches, and a spare user."""
    free = [u for u in users if u["accountEnabled"]]

    def take(test) -> dict:
        user = next(u for u in free if test(u))
        free.remove(user)
        return user

    by_mail = [take(lambda u: u["mail"] == u["userPrincipalName"]) for _ in range(3)]
    by_upn = take(lambda u: u["mail"] and u["mail"] != u["userPrincipalName"])
    by_other = take(lambda u: u["otherMails"])
    by_proxy = take(lambda u: any(a.startswith("smtp:") for a in u["proxyAddresses"]))
    shared = take(lambda u: True)
    spare = take(lambda u: True)

    def agent(name: str, email: str):
        return AgentFactory(business_unit=unit, name=name, email=email)

    return {
        "by_mail": [agent(u["displayName"], u["mail"]) for u in by_mail],
        "by_upn": agent(by_upn["displayName"], by_upn["userPrincipalName"]),
        "by_other": agent(by_other["displayName"], by_other["otherMails"][0]),
        "by_proxy": agent(
            by_proxy["displayName"],
            next(a[5:] for a in by_proxy["proxyAddresses"] if a.startswith("smtp:")),
        ),
        "twins": [agent("Twin One", shared["mail"]), agent("Twin Two", shared["mail"])],
        "nobody": agent("Temp Agent", "temp@staffing.example"),
        "by_mail_user": by_mail[0],
        "spare": spare,
    }


def test_a_supervisor_auto_maps_a_unit_then_maps_an_agent_by_hand(
    page: Page, live_server, supervisor, sim_tenant, graph_settings, graphsim
):
    _account(sim_tenant)
    directory_sync_run()
    unit = BusinessUnit.objects.create(name="Fabrikam Care", code="care")
    agents = _agents_matching_in_varied_ways(
        unit, graphsim.control.list_users(sim_tenant.tenant_id)
    )
    statuses = {p.agent_id: p.status for p in automap_proposals(business_unit=unit)}
    matched = [*agents["by_mail"], agents["by_upn"], agents["by_other"], agents["by_proxy"]]
    assert {statuses[a.pk] for a in matched} == {MatchStatus.MATCHED}, "test data"
    unticked = agents["by_mail"][1]

    sign_in(page, live_server.url, "sam")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Mapping").click()
    expect(page.get_by_text("0 of 9 agents mapped")).to_be_visible()
    page.get_by_role("link", name="Auto-map Fabrikam Care").click()

    expect(page.get_by_role("heading", name="Auto-map Fabrikam Care")).to_be_visible()
    tabs = page.get_by_role("navigation", name="Outcome")
    expect(tabs.get_by_role("link", name="Confident matches (6)")).to_be_visible()
    mail = agents["by_mail_user"]["mail"]
    expect(page.get_by_text(f"Email matches the user's mail ({mail})")).to_be_visible()
    expect(
        page.get_by_text("Email matches one of the user's proxy addresses (smtp:")
    ).to_be_visible()
    include = page.get_by_label(f"Include {unticked.name}")
    expect(include).to_be_checked()
    include.uncheck()
    expect(page.get_by_text("5 agents ticked for mapping.")).to_be_visible()
    tabs.get_by_role("link", name="Ambiguous (2)").click()
    expect(page.locator("tr.proposal-ambiguous")).to_have_count(2)
    tabs.get_by_role("link", name="No match (1)").click()
    expect(page.locator("tr.proposal-none")).to_have_count(1)
    page.get_by_role("button", name="Add & Map Agents").click()

    expect(page.get_by_role("heading", name="Map 5 agents in Fabrikam Care?")).to_be_visible()
    expect(page.get_by_text("1 matched proposals you excluded stay unmapped")).to_be_visible()
    page.get_by_role("button", name="Confirm: map 5 agents").click()

    expect(page.get_by_text("Mapped 5 agents in Fabrikam Care.")).to_be_visible()
    expect(page.get_by_text("5 of 9 agents mapped")).to_be_visible()
    mapped = set(AgentMapping.objects.values_list("agent_id", flat=True))
    assert mapped == {a.pk for a in matched} - {unticked.pk}

    # The agent nobody matched: search the directory, pick, confirm.
    nobody, spare = agents["nobody"], agents["spare"]
    page.get_by_role("link", name="Temp Agent").click()
    expect(page.get_by_role("heading", name="Temp Agent")).to_be_visible()
    expect(page.get_by_text("Not mapped to a Teams user.")).to_be_visible()
    page.get_by_label("Name, email or UPN").fill(spare["displayName"])
    page.get_by_role("button", name="Search").click()
    results = page.locator("#search-results")
    results.get_by_label(spare["displayName"]).check()
    results.get_by_role("button", name="Map to the selected user…").click()

    expect(
        page.get_by_role("heading", name=f"Map Temp Agent to {spare['displayName']}?")
    ).to_be_visible()
    page.get_by_role("button", name="Confirm mapping").click()

    expect(page.get_by_text(f"Mapped Temp Agent to {spare['displayName']}.")).to_be_visible()
    expect(page.locator("strong", has_text=spare["displayName"])).to_be_visible()
    mapping = AgentMapping.objects.select_related("directory_user").get(agent=nobody)
    assert mapping.directory_user.graph_id == spare["id"]
    assert mapping.method == AgentMapping.Method.MANUAL
    assert not AgentMapping.objects.filter(agent__in=[unticked, *agents["twins"]]).exists()


def test_a_big_unit_is_reviewed_a_group_at_a_time_and_a_whole_group_ticked(
    page: Page, live_server, supervisor
):
    """130 agents, 70 matched by mail and 60 by name only, more than a page each; their
    rule keeps the ACD state on mapping, and the confirm step says so."""
    unit = BusinessUnit.objects.create(name="Voice", code="voice")
    team = AgentTeamFactory(business_unit=unit, name="Inbound")
    rule = PresenceRule.objects.create(name="Demo", business_unit=unit)
    team_rule_set(actor=None, team=team, rule=rule, priority=None)
    for n in range(70):
        user = DirectoryUserFactory(display_name=f"Person {n:03d}")
        AgentFactory(business_unit=unit, name=f"Mailed {n:03d}", email=user.mail, teams=[team])
    for n in range(60):
        DirectoryUserFactory(display_name=f"Named {n:03d}")
        AgentFactory(business_unit=unit, name=f"Named {n:03d}", teams=[team])

    sign_in(page, live_server.url, "sam")
    page.goto(f"{live_server.url}/mapping/")
    page.get_by_role("link", name="Auto-map Voice").click()
    tabs = page.get_by_role("navigation", name="Outcome")
    expect(tabs.get_by_role("link", name="Confident matches (70)")).to_be_visible()
    expect(page.locator("tr.proposal-matched")).to_have_count(50)  # one page of 70
    expect(page.get_by_text("70 agents ticked for mapping.")).to_be_visible()

    tabs.get_by_role("link", name="Name only (60)").click()
    expect(page.get_by_text("Page 1 of 2 (60)")).to_be_visible()
    expect(page.get_by_label("Include Named 000")).not_to_be_checked()
    page.get_by_label("Include Named 000").check()
    expect(page.get_by_text("71 agents ticked for mapping.")).to_be_visible()
    page.get_by_role("button", name="Tick all 60 in Name only").click()
    expect(page.get_by_text("130 agents ticked for mapping.")).to_be_visible()
    page.get_by_role("button", name="Next").click()
    expect(page.get_by_label("Include Named 059")).to_be_checked()

    page.get_by_label("Search").fill("Named 05")
    page.get_by_role("button", name="Search").click()
    expect(page.locator("tr.proposal-matched")).to_have_count(10)
    page.get_by_label("Include Named 055").uncheck()
    expect(page.get_by_text("129 agents ticked for mapping.")).to_be_visible()

    page.get_by_role("button", name="Add & Map Agents").click()
    expect(page.get_by_role("heading", name="Map 129 agents in Voice?")).to_be_visible()
    expect(
        page.get_by_text(
            "129 agents: their ACD state will not change until their Teams presence changes "
            "(rule Demo: on mapping, keep the ACD state)."
        )
    ).to_be_visible()
    page.get_by_role("button", name="Confirm: map 129 agents").click()

    expect(page.get_by_text("Mapped 129 agents in Voice.")).to_be_visible()
    assert AgentMapping.objects.count() == 129
    assert not AgentMapping.objects.filter(agent__name="Named 055").exists()
