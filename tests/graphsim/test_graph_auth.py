"""Every Graph endpoint checks the bearer token and the permission docs/graph.md
names; errors have Graph's shape and responses carry request-id."""

from __future__ import annotations

import time

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.graphsim.support import Graph, app_token, jwt_claims
from tests.plugins.graphsim_server import SimTenant


def assert_graph_error(response, status: int, code: str) -> dict:
    """docs/graph.md: {"error":{"code","message","innerError":{"date","request-id",
    "client-request-id"}}}; responses carry request-id."""
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code
    assert error["message"]
    inner = error["innerError"]
    assert inner["request-id"] == response.headers["request-id"]
    assert inner["client-request-id"] == response.headers["client-request-id"]
    assert inner["date"]
    return error


def test_missing_token_is_401_invalid_authentication_token(graphsim, sim_tenant) -> None:
    """docs/graph.md: 401 InvalidAuthenticationToken."""
    assert_graph_error(Graph(graphsim, None).get("/users"), 401, "InvalidAuthenticationToken")


def test_forged_token_is_401(graphsim, sim_tenant: SimTenant) -> None:
    """A token signed by any key but the simulator's is refused."""
    claims = jwt_claims(app_token(graphsim, sim_tenant))
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = jwt.encode(claims, other, algorithm="RS256")
    assert_graph_error(Graph(graphsim, forged).get("/users"), 401, "InvalidAuthenticationToken")


def test_expired_token_is_401(graphsim, sim_tenant: SimTenant) -> None:
    """A token past exp is refused (the simulator's own key, so only exp is wrong)."""
    key = (graphsim.data_dir / "signing-key.pem").read_bytes()
    claims = jwt_claims(app_token(graphsim, sim_tenant))
    claims["exp"] = int(time.time()) - 60
    expired = jwt.encode(claims, key, algorithm="RS256")
    error = assert_graph_error(
        Graph(graphsim, expired).get("/users"), 401, "InvalidAuthenticationToken"
    )
    assert "expired" in error["message"]


def test_token_of_a_deleted_tenant_is_401(graphsim, sim_tenant: SimTenant) -> None:
    """Wrong tenant: the token's tenant no longer exists."""
    other = graphsim.control.create_tenant(domain=f"gone-{sim_tenant.domain}", users=1)
    app = graphsim.control.create_app(other["tenant_id"], permissions=["User.Read.All"])
    token = Graph(graphsim, None).session.post(
        f"{graphsim.authority_host}/{other['tenant_id']}/oauth2/v2.0/token",
        data={"grant_type": "client_credentials", "client_id": app["client_id"],
              "client_secret": app["client_secret"],
              "scope": "https://graph.microsoft.com/.default"},
    ).json()["access_token"]  # fmt: skip
    graphsim.control.delete_tenant(other["tenant_id"])
    assert_graph_error(Graph(graphsim, token).get("/users"), 401, "InvalidAuthenticationToken")


def test_token_for_another_audience_is_401(graphsim, sim_tenant: SimTenant) -> None:
    key = (graphsim.data_dir / "signing-key.pem").read_bytes()
    claims = jwt_claims(app_token(graphsim, sim_tenant))
    claims["aud"] = "https://management.azure.com"
    token = jwt.encode(claims, key, algorithm="RS256")
    assert_graph_error(Graph(graphsim, token).get("/users"), 401, "InvalidAuthenticationToken")


def test_lacking_permission_is_403_authorization_request_denied(
    graphsim, sim_tenant: SimTenant
) -> None:
    """docs/graph.md: 403 Authorization_RequestDenied when the permission is missing."""
    graphsim.control.update_app(
        sim_tenant.tenant_id, sim_tenant.client_id, permissions=["Mail.Send"]
    )
    graph = Graph(graphsim, app_token(graphsim, sim_tenant))
    user_id = sim_tenant.users[0]["id"]
    assert_graph_error(graph.get("/users"), 403, "Authorization_RequestDenied")
    assert_graph_error(graph.get(f"/users/{user_id}/presence"), 403, "Authorization_RequestDenied")
    assert_graph_error(
        graph.get(f"/applications/{sim_tenant.object_id}"), 403, "Authorization_RequestDenied"
    )


def test_roles_come_from_the_token_not_from_later_consent_changes(
    graphsim, sim_tenant: SimTenant
) -> None:
    """Consent changes apply to new tokens, as in Entra."""
    graph = Graph(graphsim, app_token(graphsim, sim_tenant))
    graphsim.control.update_app(sim_tenant.tenant_id, sim_tenant.client_id, permissions=[])
    assert graph.get("/users").status_code == 200
    assert Graph(graphsim, app_token(graphsim, sim_tenant)).get("/users").status_code == 403


def test_client_request_id_is_echoed(graph) -> None:
    response = graph.get("/users?$top=1", headers={"client-request-id": "abc-123"})
    assert response.headers["client-request-id"] == "abc-123"
    assert response.headers["request-id"]


def test_unknown_segment_is_400(graph) -> None:
    assert_graph_error(graph.get("/nothing-here"), 400, "BadRequest")
