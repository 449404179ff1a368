"""JSON batching (docs/graph.md, "Batching, errors, throttling": POST /$batch takes up to
20 requests with distinct ids and answers 200 with the responses in any order, each
with its own status, 429 included)."""

from __future__ import annotations

import uuid

import pytest

from graph.client import BatchRequest, GraphClient
from graph.errors import NotFound
from tests.graph.conftest import SleepRecorder
from tests.plugins.graphsim_server import GraphSimServer, SimTenant


def batch_posts(graphsim: GraphSimServer, tenant_id: str) -> list[dict]:
    calls = graphsim.control.calls(tenant=tenant_id)
    return [c for c in calls if c["path"] == "/v1.0/$batch"]


def test_more_than_20_requests_are_split_and_answers_keep_request_order(
    graphsim: GraphSimServer, sim_tenant: SimTenant, client: GraphClient
) -> None:
    wanted = [u["id"] for u in sim_tenant.users] + [str(uuid.uuid4()) for _ in range(20)]
    requests = [BatchRequest("GET", f"/users/{i}?$select=id,displayName") for i in wanted]
    responses = client.batch(requests)

    # The simulator rejects a batch of more than 20, so three batches for 45 is 20+20+5.
    assert len(batch_posts(graphsim, sim_tenant.tenant_id)) == 3
    assert client.request_count == 3
    assert [r.id for r in responses] == [str(i) for i in range(45)]
    assert [r.status for r in responses] == [200] * 25 + [404] * 20
    assert [r.body["id"] for r in responses[:25]] == wanted[:25]
    with pytest.raises(NotFound):
        responses[30].raise_for_status()
    assert responses[0].error() is None


def test_caller_ids_are_kept_and_must_be_unique(client: GraphClient, sim_tenant: SimTenant) -> None:
    user = sim_tenant.users[0]["id"]
    responses = client.batch(
        [BatchRequest("GET", f"/users/{user}", id="me"), BatchRequest("GET", "/users", id="all")]
    )
    assert [r.id for r in responses] == ["me", "all"]
    with pytest.raises(ValueError, match="unique"):
        client.batch([BatchRequest("GET", "/users", id="x"), BatchRequest("GET", "/me", id="x")])
    assert client.request_count == 1


def test_bodies_are_sent_as_json(client: GraphClient, sim_tenant: SimTenant) -> None:
    ids = [sim_tenant.users[0]["id"]]
    [answer] = client.batch(
        [BatchRequest("POST", "/communications/getPresencesByUserId", body={"ids": ids})]
    )
    assert answer.ok
    assert [p["id"] for p in answer.body["value"]] == ids


def test_an_inner_429_is_retried_after_its_retry_after(
    graphsim: GraphSimServer, sim_tenant: SimTenant, client: GraphClient, sleeps: SleepRecorder
) -> None:
    users = [u["id"] for u in sim_tenant.users[:5]]
    graphsim.control.add_fault(f"^/v1.0/users/{users[2]}$", status=429, retry_after=1.5, times=1)
    responses = client.batch([BatchRequest("GET", f"/users/{u}") for u in users])
    assert [r.status for r in responses] == [200] * 5
    assert [r.body["id"] for r in responses] == users
    assert sleeps.waits == [1.5]
    batches = batch_posts(graphsim, sim_tenant.tenant_id)
    assert len(batches) == 2
    inner = [c for c in graphsim.control.calls() if c.get("batch") and c["path"].startswith(
        "/v1.0/users/") and c["path"][len("/v1.0/users/"):] in users]  # fmt: skip
    # All five, then only the throttled one again.
    assert sorted(c["path"][len("/v1.0/users/") :] for c in inner) == sorted([*users, users[2]])
    assert [c["status"] for c in inner if users[2] in c["path"]] == [429, 200]


def test_an_inner_429_that_persists_is_returned_to_the_caller(
    graphsim: GraphSimServer, sim_tenant: SimTenant, client: GraphClient, sleeps: SleepRecorder
) -> None:
    user = sim_tenant.users[0]["id"]
    graphsim.control.add_fault(f"^/v1.0/users/{user}$", status=429, retry_after=2)
    [answer] = client.batch([BatchRequest("GET", f"/users/{user}")])
    assert answer.status == 429
    assert answer.retry_after == 2
    assert sleeps.waits == [2] * client.config.max_retries
    assert answer.error().retryable
