"""Mapping agents to Teams users in a real browser: auto-map review, then a manual map."""

from playwright.sync_api import Page, expect

from accounts.matching import MatchStatus
from accounts.models import AgentMapping, BusinessUnit
from accounts.services import automap_proposals
from accounts.sync import directory_sync_run
from integrations import crypto
from integrations.models import IntegrationAccount
from tests.accounts.factories import AgentFactory
from tests.browser.test_login import sign_in


def _account(sim_tenant) -> IntegrationAccount:
    account = IntegrationAccount(
        name="Fabrikam Teams",
        tenant=sim_tenant.tenant_id,
        client_id=sim_tenant.client_id,
        object_id=sim_tenant.object_id,
    )
    account.client_secret_encrypted = crypto.encrypt(sim_tenant.client_secret)
    account.save()
    return account


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
    expect(page.get_by_text("6 matched · 2 ambiguous")).to_be_visible()
    mail = agents["by_mail_user"]["mail"]
    expect(page.get_by_text(f"Email matches the user's mail ({mail})")).to_be_visible()
    expect(
        page.get_by_text("Email matches one of the user's proxy addresses (smtp:")
    ).to_be_visible()
    expect(page.locator("tr.proposal-ambiguous")).to_have_count(2)
    expect(page.locator("tr.proposal-none")).to_have_count(1)
    include = page.get_by_label(f"Include {unticked.name}")
    expect(include).to_be_checked()
    include.uncheck()
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
