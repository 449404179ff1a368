"""GET /api/v1/directory: the agent desktop finds Teams experts, sees their presence as
Microsoft Graph reports it and their numbers in the account's phone-type order."""

from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client

from chat.models import ExpertPresence
from integrations.apikeys import api_key_create
from tests.accounts.factories import DirectoryUserFactory

URL = "/api/v1/directory"


def key_with(*scopes: str) -> Client:
    _key, raw = api_key_create(actor=None, name="Agent desktop", scopes=scopes)
    return Client(headers={"Authorization": f"Bearer {raw}"})


@pytest.fixture
def desktop(db) -> Client:
    return key_with("directory:read")


@pytest.fixture
def experts(sim_account, sim_tenant):
    """Directory rows for the simulator tenant's first three users, as the sync stores them."""
    users = sim_tenant.users[:3]
    rows = [
        DirectoryUserFactory(
            graph_id=users[0]["id"],
            display_name="Avery Quinn",
            job_title="Senior Tax Advisor",
            department="Tax",
            business_phones=["+1 425 555 0100", "+1 425 555 0101"],
            mobile_phone="+1 425 555 0199",
            fax_number="+1 425 555 0177",
        ),
        DirectoryUserFactory(
            graph_id=users[1]["id"],
            display_name="Blake Ortiz",
            job_title="Payroll Specialist",
            department="Finance",
            mobile_phone="+1 425 555 0200",
        ),
        DirectoryUserFactory(
            graph_id=users[2]["id"], display_name="Casey Tax-Free", department="Legal"
        ),
    ]
    return rows


def presence_reads(graphsim, since: datetime) -> list[dict]:
    return [
        call
        for call in graphsim.control.calls(since=since)
        if call["path"].endswith("/communications/getPresencesByUserId")
    ]


def test_it_needs_the_directory_scope(db):
    assert Client().get(URL).status_code == 401
    response = key_with("agents:read").get(URL)
    assert response.status_code == 403
    assert "directory:read" in response.json()["detail"]


def test_it_matches_name_title_or_department_and_every_word(desktop, experts):
    names = lambda response: [e["display_name"] for e in response.json()["experts"]]  # noqa: E731
    assert names(desktop.get(URL, {"q": "tax"})) == ["Avery Quinn", "Casey Tax-Free"]
    assert names(desktop.get(URL, {"q": "PAYROLL"})) == ["Blake Ortiz"]
    assert names(desktop.get(URL, {"q": "tax advisor"})) == ["Avery Quinn"]
    assert names(desktop.get(URL, {"q": experts[1].user_principal_name})) == ["Blake Ortiz"]


def test_it_leaves_out_disabled_and_removed_users(desktop, experts):
    DirectoryUserFactory(display_name="Tax Gone", account_enabled=False)
    DirectoryUserFactory(display_name="Tax Deleted", removed_reason="deleted")
    body = desktop.get(URL, {"q": "tax"}).json()
    assert [e["display_name"] for e in body["experts"]] == ["Avery Quinn", "Casey Tax-Free"]


def test_it_pages(desktop, experts):
    body = desktop.get(URL, {"page": 2, "page_size": 2}).json()
    assert (body["count"], body["page"], body["pages"]) == (3, 2, 2)
    assert [e["display_name"] for e in body["experts"]] == ["Casey Tax-Free"]
    assert desktop.get(URL, {"page_size": 101}).status_code == 422


def test_phones_follow_the_accounts_order_and_only_its_shown_types(desktop, experts, sim_account):
    sim_account.phone_types = ["mobile", "business"]  # fax hidden
    sim_account.save()
    avery = desktop.get(URL, {"q": "Avery"}).json()["experts"][0]
    assert avery["phones"] == [
        {"type": "mobile", "number": "+1 425 555 0199"},
        {"type": "business", "number": "+1 425 555 0100"},
        {"type": "business", "number": "+1 425 555 0101"},
    ]


def test_presence_is_what_graph_reports_read_in_one_call_per_page(
    desktop, experts, graphsim, sim_tenant
):
    control = graphsim.control
    control.set_presence(sim_tenant.tenant_id, experts[0].graph_id, "Busy", "InACall")
    control.set_presence(sim_tenant.tenant_id, experts[1].graph_id, "DoNotDisturb", "Presenting")
    since = datetime.now(UTC)

    body = desktop.get(URL).json()

    by_name = {e["display_name"]: e["presence"] for e in body["experts"]}
    assert (by_name["Avery Quinn"]["availability"], by_name["Avery Quinn"]["activity"]) == (
        "Busy",
        "InACall",
    )
    assert by_name["Blake Ortiz"]["availability"] == "DoNotDisturb"
    assert not by_name["Avery Quinn"]["stale"]
    assert body["presence_error"] == ""
    assert len(presence_reads(graphsim, since)) == 1


def test_a_fresh_reading_is_not_read_again_and_an_old_one_is(
    desktop, experts, graphsim, sim_tenant
):
    desktop.get(URL)
    since = datetime.now(UTC)
    desktop.get(URL)
    assert presence_reads(graphsim, since) == []

    ExpertPresence.objects.update(read_at=datetime.now(UTC) - timedelta(seconds=31))
    graphsim.control.set_presence(sim_tenant.tenant_id, experts[0].graph_id, "Away", "Away")
    body = desktop.get(URL, {"q": "Avery"}).json()
    assert body["experts"][0]["presence"]["availability"] == "Away"
    assert len(presence_reads(graphsim, since)) == 1


def test_when_graph_refuses_the_last_reading_comes_back_marked_stale(
    desktop, experts, graphsim, sim_tenant
):
    graphsim.control.set_presence(sim_tenant.tenant_id, experts[0].graph_id, "Busy", "InACall")
    desktop.get(URL)
    ExpertPresence.objects.update(read_at=datetime.now(UTC) - timedelta(minutes=5))
    graphsim.control.add_fault("/communications/getPresencesByUserId", status=403)
    try:
        response = desktop.get(URL, {"q": "Avery"})
    finally:
        graphsim.control.clear_faults()

    assert response.status_code == 200
    body = response.json()
    assert body["presence_error"].startswith("Presence could not be read from Microsoft Graph")
    presence = body["experts"][0]["presence"]
    assert (presence["availability"], presence["stale"]) == ("Busy", True)


def test_without_an_account_presence_is_unknown_and_says_why(desktop):
    DirectoryUserFactory(display_name="Dana Field")
    body = desktop.get(URL).json()
    assert body["experts"][0]["presence"] is None
    assert "No Teams integration account" in body["presence_error"]
