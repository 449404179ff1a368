"""Delegated tokens for a system user: the password grant, the refresh token
kept in the serialisable cache, and the password-grant rejections."""

from __future__ import annotations

import uuid

import pytest

from graph.config import AppCredentials, GraphConfig
from graph.errors import AuthCause, AuthError
from graph.tokens import DelegatedTokenProvider
from tests.plugins.graphsim_server import GraphSimServer, SimTenant

PASSWORD = "Sys-User-Passw0rd!"


@pytest.fixture
def system_user(graphsim: GraphSimServer, sim_tenant: SimTenant) -> dict:
    nickname = f"ccbridge_{uuid.uuid4().hex[:8]}"
    return graphsim.control.create_user(
        sim_tenant.tenant_id, displayName=nickname, mailNickname=nickname, password=PASSWORD
    )


def token_posts(graphsim: GraphSimServer, tenant_id: str) -> int:
    calls = graphsim.control.calls(tenant=tenant_id)
    return sum(1 for c in calls if c["method"] == "POST" and c["path"].endswith("/token"))


def provider(
    config: GraphConfig, credentials: AppCredentials, user: dict, password: str = PASSWORD, **kw
) -> DelegatedTokenProvider:
    return DelegatedTokenProvider(config, credentials, user["userPrincipalName"], password, **kw)


def test_the_password_grant_gives_a_delegated_presence_token(
    config: GraphConfig, credentials: AppCredentials, system_user: dict
) -> None:
    """docs/graph.md: grant_type=password with delegated scopes (Presence.Read.All)."""
    tokens = provider(config, credentials, system_user)
    token = tokens.acquire()
    assert "Presence.Read.All" in token.scopes
    assert token.claims["idtyp"] == "user"
    assert token.claims["oid"] == system_user["id"]
    assert "Passw0rd" not in repr(tokens)


def test_a_stored_cache_is_reused_and_its_refresh_token_replaces_the_password(
    graphsim: GraphSimServer,
    sim_tenant: SimTenant,
    config: GraphConfig,
    credentials: AppCredentials,
    system_user: dict,
) -> None:
    """docs/graph.md: the password grant returns a refresh token too."""
    first = provider(config, credentials, system_user)
    token = first.acquire()
    state = first.cache_state()
    assert state is not None
    assert token_posts(graphsim, sim_tenant.tenant_id) == 1

    # A wrong password proves the next tokens come from the cache and the refresh token.
    second = provider(config, credentials, system_user, "wrong", cache_state=state)
    assert second.acquire().token == token.token
    assert token_posts(graphsim, sim_tenant.tenant_id) == 1
    refreshed = second.acquire(force_refresh=True)
    assert refreshed.token != token.token
    assert "Presence.Read.All" in refreshed.scopes
    assert token_posts(graphsim, sim_tenant.tenant_id) == 2


def test_mfa_required_is_reported_as_such(
    graphsim: GraphSimServer,
    sim_tenant: SimTenant,
    config: GraphConfig,
    credentials: AppCredentials,
    system_user: dict,
) -> None:
    """docs/graph.md: MFA required (password grant) → 400 invalid_grant AADSTS50076."""
    graphsim.control.set_mfa(sim_tenant.tenant_id, system_user["id"], True)
    with pytest.raises(AuthError) as info:
        provider(config, credentials, system_user).acquire()
    err = info.value
    assert (err.cause, err.aadsts, err.status, err.code) == (
        AuthCause.MFA_REQUIRED, 50076, 400, "invalid_grant",
    )  # fmt: skip
    assert "multi-factor" in err.sentence


def test_mfa_turned_on_later_defeats_the_refresh_token_too(
    graphsim: GraphSimServer,
    sim_tenant: SimTenant,
    config: GraphConfig,
    credentials: AppCredentials,
    system_user: dict,
) -> None:
    tokens = provider(config, credentials, system_user)
    tokens.acquire()
    graphsim.control.set_mfa(sim_tenant.tenant_id, system_user["id"], True)
    with pytest.raises(AuthError) as info:
        tokens.acquire(force_refresh=True)
    assert info.value.cause is AuthCause.MFA_REQUIRED


def test_a_wrong_password_is_wrong_password(
    config: GraphConfig, credentials: AppCredentials, system_user: dict
) -> None:
    """docs/graph.md: wrong user password → 400 invalid_grant AADSTS50126."""
    with pytest.raises(AuthError) as info:
        provider(config, credentials, system_user, "Not-The-Passw0rd").acquire()
    assert (info.value.cause, info.value.aadsts) == (AuthCause.WRONG_PASSWORD, 50126)


def test_an_unknown_user_is_explained(config: GraphConfig, credentials: AppCredentials) -> None:
    user = {"userPrincipalName": f"nobody-{uuid.uuid4().hex[:6]}@{credentials.tenant}"}
    with pytest.raises(AuthError) as info:
        provider(config, credentials, user).acquire()
    assert info.value.aadsts == 50034
    assert "No such user" in info.value.sentence
