"""docs/graph.md: GET /users/delta?$select=… → pages with @odata.nextLink, the last
with @odata.deltaLink; later the deltaLink returns only what changed, removed
users as {"id","@removed":{"reason":"changed"|"deleted"}}."""

from __future__ import annotations

from tests.plugins.graphsim_server import SimTenant


def drain(graph, url: str) -> tuple[list[dict], str]:
    items: list[dict] = []
    pages = 0
    while True:
        body = graph.get(url, headers={"Prefer": "odata.maxpagesize=10"}).json()
        pages += 1
        items += body["value"]
        if "@odata.nextLink" in body:
            assert "@odata.deltaLink" not in body
            url = body["@odata.nextLink"]
            continue
        return items, body["@odata.deltaLink"]


def test_initial_delta_pages_then_gives_a_delta_link(graph, sim_tenant: SimTenant) -> None:
    items, delta_link = drain(graph, "/users/delta?$select=id,displayName,mail")
    assert sorted(i["id"] for i in items) == sorted(u["id"] for u in sim_tenant.users)
    assert set(items[0]) == {"id", "displayName", "mail"}
    assert "$deltatoken=" in delta_link


def test_delta_link_returns_only_changes_since(graphsim, graph, sim_tenant: SimTenant) -> None:
    _, delta_link = drain(graph, "/users/delta?$select=id,displayName,jobTitle")
    nothing, delta_link = drain(graph, delta_link)
    assert nothing == []
    tenant = sim_tenant.tenant_id
    changed, soft, hard = (u["id"] for u in sim_tenant.users[:3])
    graphsim.control.update_user(tenant, changed, jobTitle="Team Lead")
    graph.delete(f"/users/{soft}")
    graphsim.control.delete_user(tenant, hard, permanent=True)
    added = graphsim.control.create_user(tenant, displayName="Newly Hired")
    items, delta_link = drain(graph, delta_link)
    by_id = {i["id"]: i for i in items}
    assert set(by_id) == {changed, soft, hard, added["id"]}
    assert by_id[changed]["jobTitle"] == "Team Lead"
    assert by_id[soft] == {"id": soft, "@removed": {"reason": "changed"}}
    assert by_id[hard] == {"id": hard, "@removed": {"reason": "deleted"}}
    assert by_id[added["id"]]["displayName"] == "Newly Hired"
    again, _ = drain(graph, delta_link)
    assert again == []


def test_invalid_delta_token_is_400(graph) -> None:
    assert graph.get("/users/delta?$deltatoken=garbage").status_code == 400
