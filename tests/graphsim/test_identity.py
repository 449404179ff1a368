"""The identity platform: discovery, keys and the token endpoint, driven the
way ccbridge drives it: MSAL's ConfidentialClientApplication configured only
by authority, over a CA-trusting session with instance_discovery=False."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import jwt
import msal
import pytest

from tests.graphsim.support import GRAPH_SCOPE, PortPinnedSession, jwt_claims, token_response
from tests.plugins.graphsim_server import GraphSimServer, SimTenant, trusted_session


def make_app(
    graphsim: GraphSimServer, tenant: str, client_id: str, secret: str
) -> msal.ConfidentialClientApplication:
    return msal.ConfidentialClientApplication(
        client_id,
        client_credential=secret,
        authority=f"{graphsim.authority_host}/{tenant}",
        http_client=PortPinnedSession(graphsim),
        instance_discovery=False,
    )


def assert_aadsts(result: dict, error: str, code: int) -> None:
    """docs/graph.md: errors carry error, error_description (AADSTS text then Trace ID /
    Correlation ID / Timestamp lines), error_codes, timestamp, trace_id,
    correlation_id, error_uri."""
    assert result["error"] == error
    assert result["error_codes"] == [code]
    lines = result["error_description"].split("\r\n")
    assert lines[0].startswith(f"AADSTS{code}: ")
    assert lines[1] == f"Trace ID: {result['trace_id']}"
    assert lines[2] == f"Correlation ID: {result['correlation_id']}"
    assert lines[3] == f"Timestamp: {result['timestamp']}"
    assert result["error_uri"].endswith(f"/error?code={code}")


def test_msal_gets_an_app_token_by_tenant_guid_and_by_domain(
    graphsim, sim_tenant: SimTenant
) -> None:
    """docs/graph.md: {tenant} is a GUID or a domain; success has token_type, expires_in
    3599, ext_expires_in, access_token."""
    for ident in (sim_tenant.tenant_id, sim_tenant.domain):
        app = make_app(graphsim, ident, sim_tenant.client_id, sim_tenant.client_secret)
        result = app.acquire_token_for_client(scopes=[GRAPH_SCOPE])
        assert result["token_type"] == "Bearer", result
        assert result["expires_in"] > 3500
        assert "access_token" in result


def test_raw_success_body_has_the_documented_fields(graphsim, sim_tenant: SimTenant) -> None:
    """docs/graph.md: token_type Bearer, expires_in and ext_expires_in 3599, access_token."""
    response = token_response(
        graphsim,
        sim_tenant.tenant_id,
        {
            "grant_type": "client_credentials",
            "client_id": sim_tenant.client_id,
            "client_secret": sim_tenant.client_secret,
            "scope": GRAPH_SCOPE,
        },
    )
    body = response.json()
    assert response.status_code == 200
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3599
    assert body["ext_expires_in"] == 3599


def test_app_token_claims(graphsim, sim_tenant: SimTenant) -> None:
    """docs/graph.md: aud graph, iss https://sts.windows.net/{tid}/, appid, tid, oid,
    idtyp app, exp, roles = granted application permissions; signed RS256 with a
    key (kid) published in the JWKS."""
    app = make_app(graphsim, sim_tenant.tenant_id, sim_tenant.client_id, sim_tenant.client_secret)
    token = app.acquire_token_for_client(scopes=[GRAPH_SCOPE])["access_token"]
    config = (
        trusted_session(graphsim.ca_path)
        .get(
            f"{graphsim.authority_host}/{sim_tenant.tenant_id}/v2.0/.well-known/openid-configuration"
        )
        .json()
    )
    jwks = trusted_session(graphsim.ca_path).get(config["jwks_uri"]).json()
    kid = jwt.get_unverified_header(token)["kid"]
    key = next(k for k in jwks["keys"] if k["kid"] == kid)
    claims = jwt.decode(
        token, jwt.PyJWK(key).key, algorithms=["RS256"], audience="https://graph.microsoft.com"
    )
    assert claims["iss"] == f"https://sts.windows.net/{sim_tenant.tenant_id}/"
    assert claims["tid"] == sim_tenant.tenant_id
    assert claims["appid"] == sim_tenant.client_id
    assert claims["idtyp"] == "app"
    assert claims["oid"]
    assert "Presence.ReadWrite.All" in claims["roles"]
    assert "User.Read.All" in claims["roles"]
    assert abs(claims["exp"] - time.time() - 3599) < 30


def test_app_without_consent_gets_a_token_without_roles(graphsim, sim_tenant: SimTenant) -> None:
    """docs/graph.md: missing or empty roles = nothing consented."""
    bare = graphsim.control.create_app(sim_tenant.tenant_id, permissions=[])
    app = make_app(graphsim, sim_tenant.tenant_id, bare["client_id"], bare["client_secret"])
    claims = jwt_claims(app.acquire_token_for_client(scopes=[GRAPH_SCOPE])["access_token"])
    assert "roles" not in claims


def test_discovery_document_names_the_endpoints(graphsim, sim_tenant: SimTenant) -> None:
    """docs/graph.md: discovery needs authorization_endpoint, token_endpoint, issuer, jwks_uri."""
    config = (
        trusted_session(graphsim.ca_path)
        .get(f"{graphsim.authority_host}/{sim_tenant.domain}/v2.0/.well-known/openid-configuration")
        .json()
    )
    root = f"{graphsim.authority_host}/{sim_tenant.tenant_id}"
    assert config["token_endpoint"] == f"{root}/oauth2/v2.0/token"
    assert config["authorization_endpoint"] == f"{root}/oauth2/v2.0/authorize"
    assert config["issuer"] == f"{root}/v2.0"
    assert config["jwks_uri"] == f"{root}/discovery/v2.0/keys"


def test_wrong_secret_is_401_invalid_client_7000215(graphsim, sim_tenant: SimTenant) -> None:
    """docs/graph.md table: wrong secret → 401 invalid_client AADSTS7000215."""
    app = make_app(graphsim, sim_tenant.tenant_id, sim_tenant.client_id, "not-the-secret")
    assert_aadsts(app.acquire_token_for_client(scopes=[GRAPH_SCOPE]), "invalid_client", 7000215)
    raw = token_response(
        graphsim,
        sim_tenant.tenant_id,
        {"grant_type": "client_credentials", "client_id": sim_tenant.client_id,
         "client_secret": "nope", "scope": GRAPH_SCOPE},
    )  # fmt: skip
    assert raw.status_code == 401


def test_expired_secret_is_401_invalid_client_7000222(graphsim, sim_tenant: SimTenant) -> None:
    """docs/graph.md table: expired secret → 401 invalid_client AADSTS7000222."""
    graphsim.control.expire_secrets(sim_tenant.tenant_id, sim_tenant.client_id)
    app = make_app(graphsim, sim_tenant.tenant_id, sim_tenant.client_id, sim_tenant.client_secret)
    assert_aadsts(app.acquire_token_for_client(scopes=[GRAPH_SCOPE]), "invalid_client", 7000222)
    raw = token_response(
        graphsim,
        sim_tenant.tenant_id,
        {"grant_type": "client_credentials", "client_id": sim_tenant.client_id,
         "client_secret": sim_tenant.client_secret, "scope": GRAPH_SCOPE},
    )  # fmt: skip
    assert raw.status_code == 401


def test_rotated_secret_works_and_the_old_one_keeps_working_until_removed(
    graphsim, sim_tenant: SimTenant
) -> None:
    """A rotation adds a password credential; each secret is checked on its own."""
    new = graphsim.control.add_secret(sim_tenant.tenant_id, sim_tenant.client_id)
    for secret in (new["client_secret"], sim_tenant.client_secret):
        app = make_app(graphsim, sim_tenant.tenant_id, sim_tenant.client_id, secret)
        assert "access_token" in app.acquire_token_for_client(scopes=[GRAPH_SCOPE])


def test_app_not_in_tenant_is_400_unauthorized_client_700016(
    graphsim, sim_tenant: SimTenant
) -> None:
    """docs/graph.md table: app not in tenant → 400 unauthorized_client AADSTS700016."""
    other = graphsim.control.create_tenant(domain=f"other-{sim_tenant.domain}", users=0)
    try:
        app = make_app(graphsim, other["tenant_id"], sim_tenant.client_id, sim_tenant.client_secret)
        result = app.acquire_token_for_client(scopes=[GRAPH_SCOPE])
        assert_aadsts(result, "unauthorized_client", 700016)
    finally:
        graphsim.control.delete_tenant(other["tenant_id"])


def test_unknown_tenant_fails_msal_construction_with_90002(graphsim) -> None:
    """docs/graph.md table: tenant not found → 400 invalid_tenant AADSTS90002 from the
    discovery URL, so MSAL raises ValueError while building the app."""
    with pytest.raises(ValueError, match="Unable to get authority configuration"):
        make_app(graphsim, "nobody.example", "11111111-1111-1111-1111-111111111111", "x")
    response = trusted_session(graphsim.ca_path).get(
        f"{graphsim.authority_host}/nobody.example/v2.0/.well-known/openid-configuration"
    )
    assert response.status_code == 400
    assert_aadsts(response.json(), "invalid_tenant", 90002)


def test_malformed_tenant_is_400_invalid_request_900023(graphsim) -> None:
    """docs/graph.md table: malformed tenant → 400 invalid_request AADSTS900023."""
    with pytest.raises(ValueError, match="Unable to get authority configuration"):
        make_app(graphsim, "not_a_tenant!", "11111111-1111-1111-1111-111111111111", "x")
    response = token_response(graphsim, "not_a_tenant!", {"grant_type": "client_credentials"})
    assert response.status_code == 400
    assert_aadsts(response.json(), "invalid_request", 900023)


def test_password_grant_returns_delegated_tokens_and_a_refresh_token(
    graphsim, sim_tenant: SimTenant
) -> None:
    """docs/graph.md: the password grant (MFA off) returns a refresh token too; the
    access token is a user token (idtyp user, oid = user id, upn, scp)."""
    user = graphsim.control.create_user(
        sim_tenant.tenant_id, displayName="Svc One", password="Passw0rd!x"
    )
    app = make_app(graphsim, sim_tenant.tenant_id, sim_tenant.client_id, sim_tenant.client_secret)
    result = app.acquire_token_by_username_password(
        user["userPrincipalName"],
        "Passw0rd!x",
        scopes=["https://graph.microsoft.com/Presence.Read.All"],
    )
    assert "access_token" in result, result
    assert result["refresh_token"]
    claims = jwt_claims(result["access_token"])
    assert claims["idtyp"] == "user"
    assert claims["oid"] == user["id"]
    assert claims["upn"] == user["userPrincipalName"]
    assert claims["scp"] == "Presence.Read.All"
    refreshed = app.acquire_token_by_refresh_token(
        result["refresh_token"], scopes=["https://graph.microsoft.com/Presence.Read.All"]
    )
    assert "access_token" in refreshed, refreshed
    assert jwt_claims(refreshed["access_token"])["oid"] == user["id"]


def test_default_scope_grants_every_consented_delegated_permission(
    graphsim, sim_tenant: SimTenant
) -> None:
    """`.default` means all the app's consented delegated permissions."""
    graphsim.control.create_user(sim_tenant.tenant_id, displayName="Svc Two", password="Passw0rd!x")
    response = token_response(
        graphsim,
        sim_tenant.tenant_id,
        {"grant_type": "password", "client_id": sim_tenant.client_id,
         "client_secret": sim_tenant.client_secret, "username": f"svc.two@{sim_tenant.domain}",
         "password": "Passw0rd!x", "scope": f"{GRAPH_SCOPE} offline_access"},
    )  # fmt: skip
    scopes = set(jwt_claims(response.json()["access_token"])["scp"].split())
    assert {"Presence.Read.All", "ChatMessage.Send", "Chat.ReadWrite", "User.Read"} <= scopes


def test_wrong_password_is_400_invalid_grant_50126(graphsim, sim_tenant: SimTenant) -> None:
    """docs/graph.md table: wrong user password → 400 invalid_grant AADSTS50126."""
    user = graphsim.control.create_user(
        sim_tenant.tenant_id, displayName="Svc Three", password="Passw0rd!x"
    )
    app = make_app(graphsim, sim_tenant.tenant_id, sim_tenant.client_id, sim_tenant.client_secret)
    result = app.acquire_token_by_username_password(
        user["userPrincipalName"], "wrong", scopes=["https://graph.microsoft.com/Presence.Read.All"]
    )
    assert_aadsts(result, "invalid_grant", 50126)


def test_mfa_required_is_400_invalid_grant_50076(graphsim, sim_tenant: SimTenant) -> None:
    """docs/graph.md table: MFA required (password grant) → 400 invalid_grant AADSTS50076."""
    user = graphsim.control.create_user(
        sim_tenant.tenant_id, displayName="Svc Four", password="Passw0rd!x"
    )
    graphsim.control.set_mfa(sim_tenant.tenant_id, user["id"], True)
    app = make_app(graphsim, sim_tenant.tenant_id, sim_tenant.client_id, sim_tenant.client_secret)
    result = app.acquire_token_by_username_password(
        user["userPrincipalName"],
        "Passw0rd!x",
        scopes=["https://graph.microsoft.com/Presence.Read.All"],
    )
    assert_aadsts(result, "invalid_grant", 50076)
    raw = token_response(
        graphsim,
        sim_tenant.tenant_id,
        {"grant_type": "password", "client_id": sim_tenant.client_id,
         "client_secret": sim_tenant.client_secret, "username": user["userPrincipalName"],
         "password": "Passw0rd!x", "scope": "https://graph.microsoft.com/Presence.Read.All"},
    )  # fmt: skip
    assert raw.status_code == 400


def test_client_credentials_need_a_default_scope(graphsim, sim_tenant: SimTenant) -> None:
    """Client credential flows must ask for {resource}/.default (AADSTS1002012)."""
    response = token_response(
        graphsim,
        sim_tenant.tenant_id,
        {"grant_type": "client_credentials", "client_id": sim_tenant.client_id,
         "client_secret": sim_tenant.client_secret,
         "scope": "https://graph.microsoft.com/User.Read.All"},
    )  # fmt: skip
    assert response.status_code == 400
    assert_aadsts(response.json(), "invalid_scope", 1002012)


def test_secret_expiring_later_still_works(graphsim, sim_tenant: SimTenant) -> None:
    """Only a secret past its endDateTime is refused."""
    soon = datetime.now(UTC) + timedelta(minutes=2)
    graphsim.control.update_app(sim_tenant.tenant_id, sim_tenant.client_id, secret_expires_at=soon)
    app = make_app(graphsim, sim_tenant.tenant_id, sim_tenant.client_id, sim_tenant.client_secret)
    assert "access_token" in app.acquire_token_for_client(scopes=[GRAPH_SCOPE])
