"""Test connection against the simulator over HTTPS: every outcome, with its exact text."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from integrations.connection import (
    INCOMPLETE,
    TOKEN_FAILED,
    account_token_refresh,
    connection_test_run,
)
from integrations.models import ConnectionTest, IntegrationAccount
from tests.plugins.graphsim_server import CCBRIDGE_APPLICATION_PERMISSIONS


def _run(account: IntegrationAccount) -> ConnectionTest:
    test = ConnectionTest.objects.create(account=account)
    return connection_test_run(test=test)


def _permission_states(test: ConnectionTest) -> dict[str, bool]:
    """Each permission ccbridge asks for (the first of any alternatives): granted?"""
    return {
        group["names"][0]: group["granted"]
        for feature in test.features
        for group in feature["groups"]
    }


def test_incomplete_credentials_name_the_missing_fields(make_account, graph_settings):
    account = make_account(secret="", client_id="", tenant="contoso.example")
    test = _run(account)
    assert test.outcome == ConnectionTest.Outcome.FAILED
    assert test.headline == "Error: Account credentials are incomplete"
    assert test.headline == INCOMPLETE
    assert test.missing_fields == ["Client ID", "Client secret"]


def test_a_consented_app_has_every_permission_granted(sim_account):
    test = _run(sim_account)
    assert test.outcome == ConnectionTest.Outcome.PASSED, test.detail
    assert test.headline == "Connected to Microsoft Graph"
    states = _permission_states(test)
    assert states and all(states.values())
    assert set(test.roles) == set(CCBRIDGE_APPLICATION_PERMISSIONS)
    assert test.live_call.startswith("Read ")


def test_a_removed_permission_shows_as_missing_with_the_consent_url(
    sim_account, sim_tenant, graphsim
):
    remaining = [p for p in CCBRIDGE_APPLICATION_PERMISSIONS if p != "Presence.ReadWrite.All"]
    graphsim.control.update_app(sim_tenant.tenant_id, sim_tenant.client_id, permissions=remaining)

    test = _run(sim_account)

    assert test.outcome == ConnectionTest.Outcome.WARNING
    assert _permission_states(test)["Presence.ReadWrite.All"] is False
    assert test.consent_url == (
        f"{graphsim.authority_host}/{sim_tenant.tenant_id}/adminconsent"
        f"?client_id={sim_tenant.client_id}"
    )


def test_no_roles_at_all_means_nothing_consented(sim_account, sim_tenant, graphsim):
    """docs/graph.md: missing or empty `roles` = nothing consented."""
    graphsim.control.update_app(sim_tenant.tenant_id, sim_tenant.client_id, permissions=[])
    test = _run(sim_account)
    assert test.outcome == ConnectionTest.Outcome.WARNING
    assert not any(_permission_states(test).values())
    assert test.live_call.startswith("Graph refused to read a user")


@pytest.mark.parametrize(
    ("case", "cause", "code"),
    [
        ("wrong_secret", "bad_secret", "AADSTS7000215"),
        ("expired_secret", "expired_secret", "AADSTS7000222"),
        ("app_not_in_tenant", "app_not_in_tenant", "AADSTS700016"),
        ("tenant_not_found", "tenant_not_found", "AADSTS90002"),
        ("malformed_tenant", "malformed_tenant", "AADSTS900023"),
    ],
)
def test_a_rejected_token_request_gives_the_exact_text_and_cause(
    make_account, sim_tenant, graphsim, graph_settings, case, cause, code
):
    """docs/graph.md identity-platform error table, one row each."""
    fields = {
        "tenant": sim_tenant.tenant_id,
        "client_id": sim_tenant.client_id,
        "secret": sim_tenant.client_secret,
    }
    if case == "wrong_secret":
        fields["secret"] = "not-the-secret-" + uuid.uuid4().hex
    elif case == "expired_secret":
        graphsim.control.expire_secrets(sim_tenant.tenant_id, sim_tenant.client_id)
    elif case == "app_not_in_tenant":
        fields["client_id"] = str(uuid.uuid4())
    elif case == "tenant_not_found":
        fields["tenant"] = str(uuid.uuid4())
    elif case == "malformed_tenant":
        fields["tenant"] = "not_a_tenant!"

    test = _run(make_account(**fields))

    assert test.outcome == ConnectionTest.Outcome.FAILED
    assert test.headline == "Error: Failed to request refresh token"
    assert test.headline == TOKEN_FAILED
    assert test.cause == cause
    assert code in test.detail


def test_an_unreachable_identity_platform_is_a_network_cause(
    make_account, graph_settings, sim_tenant
):
    settings = graph_settings
    settings.GRAPH_AUTHORITY_HOST = "https://127.0.0.1:9"
    settings.GRAPH_BASE_URL = "https://127.0.0.1:9/v1.0"
    account = make_account(
        tenant=sim_tenant.tenant_id, client_id=sim_tenant.client_id, secret="x" * 20
    )
    test = _run(account)
    assert test.headline == TOKEN_FAILED
    assert test.cause == "network"


def test_the_secret_expiry_is_read_from_graph(sim_account, sim_tenant, graphsim):
    expires = datetime.now(UTC).replace(microsecond=0) + timedelta(days=42)
    graphsim.control.update_app(
        sim_tenant.tenant_id, sim_tenant.client_id, secret_expires_at=expires
    )
    test = _run(sim_account)
    sim_account.refresh_from_db()
    assert sim_account.secret_expires_at == expires
    assert sim_account.secret_expiry_source == IntegrationAccount.ExpirySource.GRAPH
    assert test.expiry_read == expires


def test_without_application_read_the_expiry_stays_manual(sim_account, sim_tenant, graphsim):
    remaining = [p for p in CCBRIDGE_APPLICATION_PERMISSIONS if p != "Application.Read.All"]
    graphsim.control.update_app(sim_tenant.tenant_id, sim_tenant.client_id, permissions=remaining)
    test = _run(sim_account)
    sim_account.refresh_from_db()
    assert sim_account.secret_expires_at is None
    assert test.expiry_read is None
    assert _permission_states(test)["Application.Read.All"] is False


def test_a_429_on_graph_then_success_is_survived(sim_account, graphsim):
    """docs/graph.md: 429 TooManyRequests with Retry-After: wait and retry."""
    graphsim.control.add_fault(match=r"/v1\.0/users", status=429, retry_after=0.2, times=1)
    test = _run(sim_account)
    assert test.outcome == ConnectionTest.Outcome.PASSED, test.detail
    user_calls = [c for c in graphsim.control.calls() if c["path"].endswith("/v1.0/users")]
    assert [c["status"] for c in user_calls][-2:] == [429, 200]


def test_token_health_is_recorded_and_the_cache_is_reused(sim_account, graphsim):
    first = account_token_refresh(sim_account)
    sim_account.refresh_from_db()
    assert first is not None
    assert sim_account.token_expires_at == first.expires_at
    assert sim_account.token_error == ""
    token_calls = len([c for c in graphsim.control.calls() if c["path"].endswith("/token")])

    second = account_token_refresh(sim_account)

    assert second.token == first.token
    after = len([c for c in graphsim.control.calls() if c["path"].endswith("/token")])
    assert after == token_calls


def test_token_refresh_failure_is_recorded(sim_account, sim_tenant, graphsim):
    graphsim.control.expire_secrets(sim_tenant.tenant_id, sim_tenant.client_id)
    assert account_token_refresh(sim_account) is None
    sim_account.refresh_from_db()
    assert "AADSTS7000222" in sim_account.token_error
    assert sim_account.token_error_at is not None
