"""docs/graph.md: POST /communications/getPresencesByUserId {"ids":[…]} → {"value":[…]};
at most 650 ids; at most 1,500 calls per 30 s per app per tenant (then 429 with Retry-After)."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

from tests.graphsim.support import Graph, app_token
from tests.graphsim.test_graph_auth import assert_graph_error
from tests.plugins.graphsim_server import SimTenant


def test_returns_each_requested_presence(graph, graphsim, sim_tenant: SimTenant) -> None:
    ids = [u["id"] for u in sim_tenant.users[:5]]
    graphsim.control.set_presence(sim_tenant.tenant_id, ids[0], "Busy", "InACall")
    body = graph.post("/communications/getPresencesByUserId", {"ids": ids}).json()
    by_id = {p["id"]: p for p in body["value"]}
    assert set(by_id) == set(ids)
    assert by_id[ids[0]]["availability"] == "Busy"
    assert by_id[ids[1]]["availability"] == "Offline"


def test_650_ids_are_accepted_and_651_refused(graph) -> None:
    ids = [str(uuid.uuid4()) for _ in range(651)]
    assert graph.post("/communications/getPresencesByUserId", {"ids": ids[:650]}).status_code == 200
    assert_graph_error(
        graph.post("/communications/getPresencesByUserId", {"ids": ids}), 400, "BadRequest"
    )


def test_1501st_call_within_30_seconds_is_throttled_with_retry_after(
    graphsim, sim_tenant: SimTenant
) -> None:
    token = app_token(graphsim, sim_tenant)
    ids = {"ids": [sim_tenant.users[0]["id"]]}
    clients = [Graph(graphsim, token) for _ in range(6)]

    def burst(client: Graph) -> list[int]:
        return [
            client.post("/communications/getPresencesByUserId", ids).status_code for _ in range(250)
        ]

    with ThreadPoolExecutor(len(clients)) as pool:
        statuses = [s for batch in pool.map(burst, clients) for s in batch]
    assert statuses.count(200) == 1500
    throttled = clients[0].post("/communications/getPresencesByUserId", ids)
    assert_graph_error(throttled, 429, "TooManyRequests")
    assert 1 <= float(throttled.headers["Retry-After"]) <= 30
    # The limit is per app per tenant: another app in the same tenant is not throttled.
    other = graphsim.control.create_app(sim_tenant.tenant_id, permissions=["Presence.Read.All"])
    form = {
        "grant_type": "client_credentials",
        "client_id": other["client_id"],
        "client_secret": other["client_secret"],
        "scope": "https://graph.microsoft.com/.default",
    }
    other_token = (
        clients[0]
        .session.post(
            f"{graphsim.authority_host}/{sim_tenant.tenant_id}/oauth2/v2.0/token", data=form
        )
        .json()["access_token"]
    )
    assert (
        Graph(graphsim, other_token).post("/communications/getPresencesByUserId", ids).status_code
        == 200
    )
