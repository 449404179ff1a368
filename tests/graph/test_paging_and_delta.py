"""Collections: paging over @odata.nextLink and users delta with deltaLink,
page by page, resumable (docs/graph.md, "Directory")."""

from __future__ import annotations

from graph.client import GraphClient
from graph.directory import DirectoryUserRecord, list_users, users_delta
from tests.plugins.graphsim_server import GraphSimServer, SimTenant


def test_iter_pages_follows_next_link_as_given(
    graphsim: GraphSimServer, sim_tenant: SimTenant, client: GraphClient
) -> None:
    """docs/graph.md: GET /users?$select=…&$top=… pages through @odata.nextLink, used as given."""
    pages = list(client.iter_pages("/users", {"$select": "id", "$top": "10"}))
    assert [len(p) for p in pages] == [10, 10, 5]
    ids = [u["id"] for page in pages for u in page]
    assert sorted(ids) == sorted(u["id"] for u in sim_tenant.users)
    queries = [c["query"] for c in graphsim.control.calls(tenant=sim_tenant.tenant_id)
               if c["path"] == "/v1.0/users"]  # fmt: skip
    assert len(queries) == 3
    assert all("skiptoken" in q for q in queries[1:])


def test_list_users_reads_every_selected_property(
    client: GraphClient, sim_tenant: SimTenant
) -> None:
    records = [r for page in list_users(client, page_size=7) for r in page]
    assert len(records) == 25
    by_id = {r.id: r for r in records}
    for user in sim_tenant.users:
        record = by_id[user["id"]]
        assert record.user_principal_name == user["userPrincipalName"]
        assert record.proxy_addresses == tuple(user["proxyAddresses"])
        assert record.business_phones == tuple(user["businessPhones"])
        assert record.account_enabled is user["accountEnabled"]


def test_delta_ends_with_a_delta_link_and_later_returns_only_changes(
    graphsim: GraphSimServer, sim_tenant: SimTenant, client: GraphClient
) -> None:
    """docs/graph.md: /users/delta pages with nextLink, last page with deltaLink; removed
    users come as {"id", "@removed":{"reason"}}."""
    pages = list(users_delta(client, page_size=10))
    assert [len(p.items) for p in pages] == [10, 10, 5]
    assert all(p.next_link and not p.delta_link for p in pages[:-1])
    assert pages[-1].delta_link and not pages[-1].next_link
    assert len({u["id"] for p in pages for u in p.items}) == 25

    tenant, users = sim_tenant.tenant_id, sim_tenant.users
    graphsim.control.update_user(tenant, users[0]["id"], jobTitle="Team lead")
    graphsim.control.delete_user(tenant, users[1]["id"], permanent=True)
    added = graphsim.control.create_user(tenant, displayName="New Agent", mailNickname="newagent")

    changes = list(users_delta(client, pages[-1].delta_link))
    assert len(changes) == 1 and changes[0].delta_link
    records = {r.id: r for r in map(DirectoryUserRecord.from_graph, changes[0].items)}
    assert set(records) == {users[0]["id"], users[1]["id"], added["id"]}
    assert records[users[0]["id"]].job_title == "Team lead"
    assert records[users[1]["id"]].removed_reason == "deleted"
    assert records[added["id"]].display_name == "New Agent"
    assert records[added["id"]].removed_reason is None

    [quiet] = list(users_delta(client, changes[0].delta_link))
    assert quiet.items == []
    assert quiet.delta_link


def test_a_round_resumes_from_a_stored_next_link(client: GraphClient) -> None:
    first = next(iter(users_delta(client, page_size=10)))
    rest = list(users_delta(client, first.next_link))
    assert [len(p.items) for p in rest] == [10, 5]
    assert rest[-1].delta_link
    seen = [u["id"] for u in first.items] + [u["id"] for p in rest for u in p.items]
    assert len(set(seen)) == 25
