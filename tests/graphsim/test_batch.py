"""docs/graph.md: POST /$batch {"requests":[{id, method, url (relative), headers, body,
dependsOn}]}, ≤ 20 requests, unique ids → 200 {"responses":[{id,status,headers,body}]}
in any order; each inner response has its own status (429 included)."""

from __future__ import annotations

from tests.graphsim.test_graph_auth import assert_graph_error
from tests.plugins.graphsim_server import SimTenant


def by_id(response) -> dict[str, dict]:
    assert response.status_code == 200, response.text
    return {r["id"]: r for r in response.json()["responses"]}


def test_requests_run_with_their_own_status(graph, sim_tenant: SimTenant) -> None:
    user = sim_tenant.users[0]["id"]
    batch = {"requests": [
        {"id": "1", "method": "GET", "url": f"/users/{user}?$select=id,displayName"},
        {"id": "2", "method": "GET", "url": "users/00000000-0000-0000-0000-000000000000"},
        {"id": "3", "method": "GET", "url": f"/users/{user}/presence"},
    ]}  # fmt: skip
    responses = by_id(graph.post("/$batch", batch))
    assert responses["1"]["status"] == 200
    assert responses["1"]["body"]["id"] == user
    assert responses["2"]["status"] == 404
    assert responses["2"]["body"]["error"]["code"] == "Request_ResourceNotFound"
    assert responses["3"]["body"]["availability"] == "Offline"
    assert responses["1"]["headers"]["Content-Type"].startswith("application/json")


def test_more_than_20_requests_is_400(graph) -> None:
    batch = {
        "requests": [{"id": str(i), "method": "GET", "url": "/users?$top=1"} for i in range(21)]
    }
    assert_graph_error(graph.post("/$batch", batch), 400, "BadRequest")
    batch["requests"].pop()
    assert graph.post("/$batch", batch).status_code == 200


def test_duplicate_ids_are_400(graph) -> None:
    batch = {"requests": [{"id": "1", "method": "GET", "url": "/users"}] * 2}
    assert_graph_error(graph.post("/$batch", batch), 400, "BadRequest")


def test_absolute_urls_are_refused_per_request(graph) -> None:
    batch = {
        "requests": [{"id": "1", "method": "GET", "url": "https://graph.microsoft.com/v1.0/users"}]
    }
    assert by_id(graph.post("/$batch", batch))["1"]["status"] == 400


def test_failed_dependency_gives_424(graph, sim_tenant: SimTenant) -> None:
    user = sim_tenant.users[0]["id"]
    batch = {"requests": [
        {"id": "a", "method": "GET", "url": "/users/00000000-0000-0000-0000-000000000000"},
        {"id": "b", "method": "GET", "url": f"/users/{user}", "dependsOn": ["a"]},
        {"id": "c", "method": "PATCH", "url": f"/users/{user}", "body": {"jobTitle": "Lead"},
         "headers": {"Content-Type": "application/json"}},
        {"id": "d", "method": "GET", "url": f"/users/{user}?$select=jobTitle", "dependsOn": ["c"]},
    ]}  # fmt: skip
    responses = by_id(graph.post("/$batch", batch))
    assert responses["b"]["status"] == 424
    assert responses["c"]["status"] == 204
    assert responses["d"]["status"] == 200
    assert responses["d"]["body"]["jobTitle"] == "Lead"


def test_inner_requests_can_be_throttled(graphsim, graph, sim_tenant: SimTenant) -> None:
    user = sim_tenant.users[0]["id"]
    graphsim.control.add_fault(r"/presence$", status=429, retry_after=2, times=1)
    batch = {"requests": [
        {"id": "1", "method": "GET", "url": f"/users/{user}/presence"},
        {"id": "2", "method": "GET", "url": f"/users/{user}"},
    ]}  # fmt: skip
    responses = by_id(graph.post("/$batch", batch))
    assert responses["1"]["status"] == 429
    assert responses["1"]["headers"]["Retry-After"] == "2"
    assert responses["2"]["status"] == 200


def test_batch_needs_a_token(graphsim, sim_tenant) -> None:
    from tests.graphsim.support import Graph

    response = Graph(graphsim, None).post("/$batch", {"requests": []})
    assert_graph_error(response, 401, "InvalidAuthenticationToken")
