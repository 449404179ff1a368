"""GraphClient requests against the simulator: JSON in and out, typed errors
with Graph's code and request-id, the one-time token refresh on 401, and the
session rules (our CA, our User-Agent, no token sent off Graph)."""

from __future__ import annotations

import pytest

from graph.client import GraphClient
from graph.config import AppCredentials, GraphConfig
from graph.errors import InvalidToken, NotFound, PermissionDenied
from graph.http import USER_AGENT, make_session
from graph.tokens import AppTokenProvider
from tests.plugins.graphsim_server import GraphSimServer, SimTenant


def graph_calls(graphsim: GraphSimServer, tenant_id: str) -> list[dict]:
    return [c for c in graphsim.control.calls(tenant=tenant_id) if c["path"].startswith("/v1.0/")]


def token_posts(graphsim: GraphSimServer, tenant_id: str) -> int:
    calls = graphsim.control.calls(tenant=tenant_id)
    return sum(1 for c in calls if c["method"] == "POST" and c["path"].endswith("/token"))


def test_get_returns_graphs_json(client: GraphClient, sim_tenant: SimTenant) -> None:
    user = sim_tenant.users[0]
    body = client.get(f"/users/{user['id']}", {"$select": "id,displayName"})
    assert body is not None
    assert (body["id"], body["displayName"]) == (user["id"], user["displayName"])
    assert client.request_count == 1


def test_a_missing_object_is_not_found_with_code_and_request_id(
    client: GraphClient, graphsim: GraphSimServer, sim_tenant: SimTenant
) -> None:
    """docs/graph.md: 404 Request_ResourceNotFound; responses carry request-id."""
    with pytest.raises(NotFound) as info:
        client.get("/users/00000000-0000-0000-0000-000000000000")
    err = info.value
    assert (err.status, err.code) == (404, "Request_ResourceNotFound")
    assert len(err.request_id) == 36
    assert client.request_count == 1  # a 404 is final, never retried


def test_a_removed_permission_gives_permission_denied(
    graphsim: GraphSimServer,
    sim_tenant: SimTenant,
    config: GraphConfig,
    credentials: AppCredentials,
) -> None:
    """docs/graph.md: 403 Authorization_RequestDenied; roles are fixed when the token is issued."""
    graphsim.control.update_app(
        sim_tenant.tenant_id, sim_tenant.client_id, permissions=["Presence.Read.All"]
    )
    client = GraphClient(config, AppTokenProvider(config, credentials))
    with pytest.raises(PermissionDenied) as info:
        client.get("/users", {"$top": "1"})
    assert (info.value.status, info.value.code) == (403, "Authorization_RequestDenied")
    assert info.value.request_id


def test_an_invalid_token_is_refreshed_once_and_the_request_retried(
    graphsim: GraphSimServer, sim_tenant: SimTenant, client: GraphClient
) -> None:
    """docs/graph.md: 401 InvalidAuthenticationToken."""
    client.tokens.acquire()
    graphsim.control.add_fault(f"^/v1.0/users/{sim_tenant.users[0]['id']}$", status=401, times=1)
    assert client.get(f"/users/{sim_tenant.users[0]['id']}") is not None
    assert client.request_count == 2
    assert token_posts(graphsim, sim_tenant.tenant_id) == 2


def test_a_token_graph_keeps_refusing_is_invalid_token(
    graphsim: GraphSimServer, sim_tenant: SimTenant, client: GraphClient
) -> None:
    graphsim.control.add_fault(f"^/v1.0/users/{sim_tenant.users[0]['id']}$", status=401, times=5)
    with pytest.raises(InvalidToken):
        client.get(f"/users/{sim_tenant.users[0]['id']}")
    assert client.request_count == 2


def test_post_patch_and_delete_round_trip(client: GraphClient, sim_tenant: SimTenant) -> None:
    created = client.post(
        "/users",
        {
            "accountEnabled": True,
            "displayName": "ccbridge System 9",
            "mailNickname": "ccbridge_system9",
            "userPrincipalName": f"ccbridge_system9@{sim_tenant.domain}",
            "passwordProfile": {
                "password": "Str0ng-Passw0rd!",
                "forceChangePasswordNextSignIn": False,
            },
        },
    )
    assert created is not None
    assert client.patch(f"/users/{created['id']}", {"jobTitle": "Robot"}) is None
    assert client.get(f"/users/{created['id']}", {"$select": "jobTitle"})["jobTitle"] == "Robot"
    assert client.delete(f"/users/{created['id']}") is None
    with pytest.raises(NotFound):
        client.get(f"/users/{created['id']}")


def test_it_never_sends_the_token_outside_graph(
    client: GraphClient, graphsim: GraphSimServer, sim_tenant: SimTenant
) -> None:
    with pytest.raises(ValueError, match="outside"):
        client.get("https://evil.example/v1.0/users")
    with pytest.raises(ValueError, match="outside"):
        client.get(graphsim.graph_url.replace("127.0.0.1", "127.0.0.1.evil.example"))
    assert client.request_count == 0
    assert graph_calls(graphsim, sim_tenant.tenant_id) == []


def test_the_session_ignores_ca_bundle_variables_and_says_who_it_is(
    monkeypatch: pytest.MonkeyPatch, config: GraphConfig, graphsim: GraphSimServer
) -> None:
    """docs/graph.md: REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE override Session.verify unless
    trust_env is off; the client must trust the simulator's CA."""
    import certifi

    monkeypatch.setenv("REQUESTS_CA_BUNDLE", certifi.where())
    monkeypatch.setenv("CURL_CA_BUNDLE", certifi.where())
    session = make_session(config)
    assert session.trust_env is False
    assert session.verify == graphsim.ca_path
    assert session.get(f"{graphsim.base_url}/", timeout=10).status_code == 200
    assert USER_AGENT.startswith("ccbridge/")
    assert session.headers["User-Agent"] == USER_AGENT
