"""App-only tokens from the identity platform (the simulator, over HTTPS):
success, every documented rejection as a precise AuthError, network failures,
and the serialisable token cache."""

from __future__ import annotations

import socket
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from graph.config import AppCredentials, GraphConfig
from graph.errors import AuthCause, AuthError, Unavailable
from graph.permissions import FeatureStatus, check_roles
from graph.tokens import AppTokenProvider
from tests.plugins.graphsim_server import GraphSimServer, SimTenant


def token_posts(graphsim: GraphSimServer, tenant_id: str) -> list[dict]:
    return [
        c
        for c in graphsim.control.calls(tenant=tenant_id)
        if c["method"] == "POST" and c["path"].endswith("/oauth2/v2.0/token")
    ]


def rejected(config: GraphConfig, tenant: str, client_id: str, secret: str) -> AuthError:
    provider = AppTokenProvider(config, AppCredentials(tenant, client_id, secret))
    with pytest.raises(AuthError) as info:
        provider.acquire()
    return info.value


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_it_gets_a_token_whose_roles_are_the_consented_permissions(
    graphsim: GraphSimServer, sim_tenant: SimTenant, app_tokens: AppTokenProvider
) -> None:
    """docs/graph.md: the app-only token's roles = granted application permissions."""
    token = app_tokens.acquire()
    app = graphsim.control.request(
        "GET", f"/tenants/{sim_tenant.tenant_id}/apps/{sim_tenant.client_id}"
    )
    assert sorted(token.roles) == sorted(app["permissions"])
    assert token.claims["tid"] == sim_tenant.tenant_id
    assert token.claims["idtyp"] == "app"
    assert app_tokens.token_expires_at == token.expires_at
    # docs/graph.md: expires_in 3599.
    left = token.expires_at - datetime.now(UTC)
    assert timedelta(minutes=55) < left <= timedelta(hours=1)
    assert not any(c.status is FeatureStatus.MISSING for c in check_roles(token.roles))


def test_a_second_acquire_is_served_from_the_cache(
    graphsim: GraphSimServer, sim_tenant: SimTenant, app_tokens: AppTokenProvider
) -> None:
    first = app_tokens.acquire()
    assert app_tokens.acquire().token == first.token
    assert len(token_posts(graphsim, sim_tenant.tenant_id)) == 1


def test_force_refresh_asks_for_a_new_token(
    graphsim: GraphSimServer, sim_tenant: SimTenant, app_tokens: AppTokenProvider
) -> None:
    first = app_tokens.acquire()
    second = app_tokens.acquire(force_refresh=True)
    assert second.token != first.token
    assert len(token_posts(graphsim, sim_tenant.tenant_id)) == 2


def test_building_a_provider_talks_to_nobody(
    graphsim: GraphSimServer, sim_tenant: SimTenant, config: GraphConfig
) -> None:
    """docs/graph.md: MSAL performs discovery in its constructor, so it is built lazily."""
    AppTokenProvider(config, AppCredentials(str(uuid.uuid4()), "c", "s"))
    AppTokenProvider(config, AppCredentials(sim_tenant.tenant_id, sim_tenant.client_id, "x"))
    assert graphsim.control.calls(tenant=sim_tenant.tenant_id) == []


def test_the_token_cache_state_lets_another_provider_reuse_the_token(
    graphsim: GraphSimServer,
    sim_tenant: SimTenant,
    config: GraphConfig,
    credentials: AppCredentials,
) -> None:
    """docs/graph.md: SerializableTokenCache serialises to JSON that holds the access token."""
    first = AppTokenProvider(config, credentials)
    assert first.cache_state() is None
    token = first.acquire()
    state = first.cache_state()
    assert state is not None and token.token in state
    assert first.cache_state() is None  # unchanged since it was returned

    second = AppTokenProvider(config, credentials, cache_state=state)
    assert second.token_expires_at is not None
    reused = second.acquire()
    assert reused.token == token.token
    assert reused.roles == token.roles
    assert len(token_posts(graphsim, sim_tenant.tenant_id)) == 1
    assert second.cache_state() is None


def test_a_corrupt_cache_state_only_costs_a_token_request(
    graphsim: GraphSimServer,
    sim_tenant: SimTenant,
    config: GraphConfig,
    credentials: AppCredentials,
) -> None:
    provider = AppTokenProvider(config, credentials, cache_state="{not json")
    assert provider.acquire().roles
    assert len(token_posts(graphsim, sim_tenant.tenant_id)) == 1


def test_a_wrong_secret_is_bad_secret(config: GraphConfig, sim_tenant: SimTenant) -> None:
    """docs/graph.md: wrong secret → 401 invalid_client AADSTS7000215."""
    err = rejected(config, sim_tenant.tenant_id, sim_tenant.client_id, "not-the-secret")
    assert (err.cause, err.aadsts, err.status, err.code) == (
        AuthCause.BAD_SECRET, 7000215, 401, "invalid_client",
    )  # fmt: skip
    assert "client secret is wrong" in err.sentence
    assert err.request_id and err.correlation_id


def test_an_expired_secret_is_expired_secret(
    graphsim: GraphSimServer, config: GraphConfig, sim_tenant: SimTenant
) -> None:
    """docs/graph.md: expired secret → 401 invalid_client AADSTS7000222."""
    graphsim.control.expire_secrets(sim_tenant.tenant_id, sim_tenant.client_id)
    err = rejected(config, sim_tenant.tenant_id, sim_tenant.client_id, sim_tenant.client_secret)
    assert (err.cause, err.aadsts, err.status) == (AuthCause.EXPIRED_SECRET, 7000222, 401)


def test_an_unknown_client_id_is_app_not_in_tenant(
    config: GraphConfig, sim_tenant: SimTenant
) -> None:
    """docs/graph.md: app not in tenant → 400 unauthorized_client AADSTS700016."""
    err = rejected(config, sim_tenant.domain, str(uuid.uuid4()), sim_tenant.client_secret)
    assert (err.cause, err.aadsts, err.code) == (
        AuthCause.APP_NOT_IN_TENANT, 700016, "unauthorized_client",
    )  # fmt: skip


def test_an_unknown_tenant_is_tenant_not_found(config: GraphConfig, sim_tenant: SimTenant) -> None:
    """docs/graph.md: tenant not found → AADSTS90002 from the discovery URL, which
    makes MSAL fail while building the app with a ValueError."""
    err = rejected(config, str(uuid.uuid4()), sim_tenant.client_id, sim_tenant.client_secret)
    assert (err.cause, err.aadsts, err.status, err.code) == (
        AuthCause.TENANT_NOT_FOUND, 90002, 400, "invalid_tenant",
    )  # fmt: skip
    assert isinstance(err.__cause__, ValueError)


def test_a_malformed_tenant_is_malformed_tenant(config: GraphConfig, sim_tenant: SimTenant) -> None:
    """docs/graph.md: malformed tenant → 400 invalid_request AADSTS900023."""
    err = rejected(config, "not a tenant!", sim_tenant.client_id, sim_tenant.client_secret)
    assert (err.cause, err.aadsts) == (AuthCause.MALFORMED_TENANT, 900023)


def test_incomplete_credentials_fail_before_any_request(
    graphsim: GraphSimServer, config: GraphConfig, sim_tenant: SimTenant
) -> None:
    err = rejected(config, sim_tenant.tenant_id, sim_tenant.client_id, "  ")
    assert err.cause is AuthCause.INCOMPLETE
    assert graphsim.control.calls(tenant=sim_tenant.tenant_id) == []


def test_a_closed_port_is_a_network_error(sim_tenant: SimTenant, graphsim: GraphSimServer) -> None:
    port = closed_port()
    config = GraphConfig(
        f"https://127.0.0.1:{port}", graphsim.graph_url, ca_bundle=graphsim.ca_path
    )
    err = rejected(config, sim_tenant.tenant_id, sim_tenant.client_id, sim_tenant.client_secret)
    assert err.cause is AuthCause.NETWORK
    assert "connection refused" in err.message
    assert f"127.0.0.1:{port}" in err.sentence
    assert err.aadsts is None and err.retryable


def test_an_untrusted_certificate_is_a_tls_network_error(
    sim_tenant: SimTenant, graphsim: GraphSimServer
) -> None:
    """docs/graph.md: the client must trust the simulator's CA; certifi's bundle does not."""
    config = GraphConfig(graphsim.authority_host, graphsim.graph_url, ca_bundle=None)
    err = rejected(config, sim_tenant.tenant_id, sim_tenant.client_id, sim_tenant.client_secret)
    assert err.cause is AuthCause.NETWORK
    assert "TLS certificate not trusted" in err.message
    assert "certificate authorities" in err.sentence


@pytest.mark.parametrize("status", [503, 429])
def test_a_failing_token_endpoint_is_unavailable(
    graphsim: GraphSimServer, sim_tenant: SimTenant, app_tokens: AppTokenProvider, status: int
) -> None:
    """MSAL raises for 5xx and returns the body of a 429 (temporarily_unavailable);
    both are transient, not an authentication failure."""
    graphsim.control.add_fault(
        f"/{sim_tenant.tenant_id}/oauth2/v2.0/token", status=status, retry_after=1, times=1
    )
    with pytest.raises(Unavailable) as info:
        app_tokens.acquire()
    assert info.value.retryable
