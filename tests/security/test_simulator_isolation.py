"""The simulator's control API (/_sim/) can never be reached through the console.

Nothing in the console routes, proxies or redirects there; the addresses the
console fetches are built from settings (GRAPH_AUTHORITY_HOST, GRAPH_BASE_URL,
never editable in a form) plus identifiers a form has validated; the one
free-form URL, the ACD webhook, is fetched with the public trust store (or
ACD_WEBHOOK_CA_BUNDLE), which does not trust the simulator's private CA.
"""

from datetime import UTC, datetime

import pytest
from django.test import Client
from django.urls import reverse

from integrations.forms import IntegrationAccountForm
from integrations.models import IntegrationAccount
from presence.subscriptions.system_users import SystemUserError, system_user_add, system_user_check
from presence.sync_models import SystemUser
from tests.presence.factories import SystemUserFactory
from tests.security.routes import ROUTES, route_keys, world_fixture  # noqa: F401

CONTROL_PATHS = ["/_sim/health", "/_sim/faults", "/_sim/subscriptions", "/_sim/clock"]


def test_no_console_url_leads_to_the_control_api():
    assert not [key for key in route_keys() if "_sim" in key]


@pytest.mark.parametrize("path", CONTROL_PATHS)
def test_the_console_answers_404_at_control_addresses(path, administrator_client):
    assert administrator_client.get(path).status_code == 404
    assert administrator_client.post(path, "{}", content_type="application/json").status_code == 404
    assert Client().get(path).status_code == 404


def test_no_console_page_redirects_there(world, administrator):
    client = Client()
    client.force_login(administrator)
    for key in ROUTES:
        response = client.get(world.url(key))
        assert "_sim" not in response.get("Location", ""), key


def test_graph_addresses_are_not_editable_in_any_form():
    fields = set(IntegrationAccountForm.base_fields)
    assert not {name for name in fields if "url" in name or "authority" in name or "host" in name}


@pytest.mark.parametrize(
    "tenant", ["../_sim/faults", "contoso.example/../../_sim/health", "_sim", "x?y=1", "a#b", "a/b"]
)
def test_the_tenant_cannot_walk_to_another_path(tenant, administrator_client):
    response = administrator_client.post(
        reverse("integrations:account"),
        {
            "name": "Contoso",
            "tenant": tenant,
            "client_id": "11111111-2222-3333-4444-555555555555",
            "client_secret": "s3cret-value",
            "licensing_mode": "evaluation",
        },
    )
    assert response.status_code == 200
    assert "tenant" in response.context["form"].errors
    assert not IntegrationAccount.objects.exists()


def test_an_acd_webhook_at_the_simulator_is_refused_by_tls(administrator_client, graphsim):
    url = f"{graphsim.base_url}/_sim/faults"
    saved = administrator_client.post(
        reverse("sync:acd_settings"),
        {"url": url, "secret": "a-signing-secret-long-enough", "enabled": "on"},
    )
    assert saved.status_code in (200, 302)

    page = administrator_client.post(reverse("sync:acd_test")).content.decode()

    assert "TLS failed" in page
    graph_call = graphsim.control.request("GET", "/health")
    assert graph_call["status"] == "ok"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "local_part",
    ["x/../../../_sim/health#", "x\\..\\_sim", "x%2F..%2F_sim", "a b", "who?", "..", ""],
)
def test_a_system_user_name_that_could_change_the_realm_url_is_refused(local_part, sim_tenant):
    # MSAL puts the name unquoted into https://{host}/common/userrealm/{name}.
    with pytest.raises(SystemUserError, match=r"user principal name|Enter the account"):
        system_user_add(actor=None, username=f"{local_part}@{sim_tenant.domain}", password="pw")
    assert not SystemUser.objects.exists()


def test_a_name_stored_before_the_check_still_reaches_no_other_path(
    sim_account, graphsim, sim_tenant
):
    # A row written before names were checked: the identity transport refuses the walk.
    since = datetime.now(UTC)
    user = SystemUserFactory(
        username=f"x/../../../_sim/health#@{sim_tenant.domain}",
        status=SystemUser.Status.UNCHECKED,
    )
    system_user_check(user)
    user.refresh_from_db()
    assert user.status == SystemUser.Status.FAILED
    assert "not plain" in user.status_detail
    paths = [call["path"] for call in graphsim.control.calls(since=since)]
    assert not [path for path in paths if path.startswith("/_sim")], paths


def test_the_user_realm_call_is_recorded_for_an_ordinary_name(sim_account, graphsim, sim_tenant):
    # The check above can pass: an ordinary name's realm lookup shows up in the call log.
    since = datetime.now(UTC)
    user = system_user_add(actor=None, username=f"someone@{sim_tenant.domain}", password="pw")
    system_user_check(user)
    paths = [call["path"] for call in graphsim.control.calls(since=since)]
    assert f"/common/userrealm/someone@{sim_tenant.domain}" in paths
