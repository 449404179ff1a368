"""Directory: users (paging, $select, $filter, get, create, update, delete),
group members and the application's password credentials (docs/graph.md, Directory)."""

from __future__ import annotations

from urllib.parse import urlsplit

from tests.graphsim.support import Graph, app_token
from tests.graphsim.test_graph_auth import assert_graph_error
from tests.plugins.graphsim_server import SimTenant

PROPS = (
    "id,displayName,mail,userPrincipalName,otherMails,proxyAddresses,businessPhones,"
    "mobilePhone,faxNumber,accountEnabled,jobTitle,department"
)


def test_users_page_through_next_links_until_all_are_seen(graph, sim_tenant: SimTenant) -> None:
    """docs/graph.md: GET /users?$select=…&$top=… pages through @odata.nextLink
    (absolute, used as given)."""
    seen: list[str] = []
    url = "/users?$select=id,displayName&$top=10"
    pages = 0
    while url:
        body = graph.get(url).json()
        pages += 1
        seen += [u["id"] for u in body["value"]]
        url = body.get("@odata.nextLink")
        if url:
            assert urlsplit(url).scheme == "https"
            assert "$skiptoken=" in url
    assert pages == 3
    assert sorted(seen) == sorted(u["id"] for u in sim_tenant.users)
    assert len(set(seen)) == 25


def test_select_returns_exactly_the_selected_properties(graph) -> None:
    """docs/graph.md Directory: the properties ccbridge reads, via $select."""
    users = graph.get(f"/users?$select={PROPS}").json()["value"]
    assert set(users[0]) == set(PROPS.split(","))
    primary = next(u for u in users if u["proxyAddresses"])["proxyAddresses"]
    assert primary[0].startswith("SMTP:")
    assert all(p.startswith("smtp:") for p in primary[1:])


def test_default_properties_without_select(graph) -> None:
    user = graph.get("/users?$top=1").json()["value"][0]
    assert "accountEnabled" not in user
    assert {"id", "displayName", "userPrincipalName", "mail", "businessPhones"} <= set(user)


def test_unknown_select_property_is_400(graph) -> None:
    assert_graph_error(graph.get("/users?$select=shoeSize"), 400, "Request_BadRequest")


def test_top_is_bounded_to_999(graph) -> None:
    # docs/graph.md, "Directory": Graph's code for a page size above 999.
    assert_graph_error(graph.get("/users?$top=1000"), 400, "Request_UnsupportedQuery")
    assert_graph_error(graph.get("/users?$top=many"), 400, "Request_BadRequest")
    assert len(graph.get("/users?$top=999").json()["value"]) == 25


def test_default_page_is_100(graphsim, sim_tenant: SimTenant, graph) -> None:
    for n in range(80):
        graphsim.control.create_user(sim_tenant.tenant_id, displayName=f"Extra User{n}")
    body = graph.get("/users").json()
    assert len(body["value"]) == 100
    assert "@odata.nextLink" in body


def test_filter_on_mail_upn_and_id(graph, sim_tenant: SimTenant) -> None:
    target = sim_tenant.users[3]
    by_mail = graph.get(f"/users?$filter=mail eq '{target['mail'].upper()}'").json()["value"]
    assert [u["id"] for u in by_mail] == [target["id"]]
    by_upn = graph.get(
        f"/users?$filter=userPrincipalName eq '{target['userPrincipalName']}'"
    ).json()["value"]
    assert [u["id"] for u in by_upn] == [target["id"]]
    ids = [sim_tenant.users[0]["id"], target["id"]]
    quoted = ",".join(f"'{i}'" for i in ids)
    by_ids = graph.get(f"/users?$filter=id in ({quoted})").json()["value"]
    assert sorted(u["id"] for u in by_ids) == sorted(ids)


def test_filter_on_proxy_addresses_with_any(graph, sim_tenant: SimTenant) -> None:
    target = sim_tenant.users[5]
    alias = target["proxyAddresses"][1]
    found = graph.get(f"/users?$filter=proxyAddresses/any(x:x eq '{alias}')").json()["value"]
    assert [u["id"] for u in found] == [target["id"]]


def test_unsupported_filter_is_400(graph) -> None:
    assert_graph_error(graph.get("/users?$filter=shoeSize eq 4"), 400, "Request_UnsupportedQuery")


def test_get_user_by_id_and_by_upn_and_404(graph, sim_tenant: SimTenant) -> None:
    target = sim_tenant.users[0]
    assert graph.get(f"/users/{target['id']}").json()["id"] == target["id"]
    assert graph.get(f"/users/{target['userPrincipalName']}").json()["id"] == target["id"]
    assert_graph_error(
        graph.get("/users/00000000-0000-0000-0000-000000000000"), 404, "Request_ResourceNotFound"
    )


def new_user_body(domain: str, nickname: str = "ccbridge_sys1") -> dict:
    return {
        "accountEnabled": True,
        "displayName": "ccbridge system user 1",
        "mailNickname": nickname,
        "userPrincipalName": f"{nickname}@{domain}",
        "passwordProfile": {"password": "Str0ng-Passw0rd!", "forceChangePasswordNextSignIn": False},
    }


def test_create_user_returns_201_and_the_user_can_sign_in(
    graphsim, graph, sim_tenant: SimTenant
) -> None:
    """docs/graph.md: POST /users needs accountEnabled, displayName, mailNickname,
    userPrincipalName, passwordProfile → 201."""
    response = graph.post("/users", new_user_body(sim_tenant.domain))
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["userPrincipalName"] == f"ccbridge_sys1@{sim_tenant.domain}"
    assert graph.get(f"/users/{created['id']}").status_code == 200
    from tests.graphsim.support import user_token

    tokens = user_token(graphsim, sim_tenant, created["userPrincipalName"], "Str0ng-Passw0rd!")
    assert tokens["refresh_token"]


def test_create_user_without_a_required_property_is_400(graph, sim_tenant: SimTenant) -> None:
    for prop in (
        "accountEnabled",
        "displayName",
        "mailNickname",
        "userPrincipalName",
        "passwordProfile",
    ):
        body = new_user_body(sim_tenant.domain)
        del body[prop]
        assert_graph_error(graph.post("/users", body), 400, "Request_BadRequest")


def test_create_user_with_a_taken_upn_is_400_object_conflict(graph, sim_tenant: SimTenant) -> None:
    """Graph answers a duplicate userPrincipalName with 400 Request_BadRequest, ObjectConflict."""
    assert graph.post("/users", new_user_body(sim_tenant.domain)).status_code == 201
    error = assert_graph_error(
        graph.post("/users", new_user_body(sim_tenant.domain)), 400, "Request_BadRequest"
    )
    assert "already exists" in error["message"]
    assert error["details"][0]["code"] == "ObjectConflict"


def test_create_user_needs_user_readwrite(graphsim, sim_tenant: SimTenant) -> None:
    graphsim.control.update_app(
        sim_tenant.tenant_id, sim_tenant.client_id, permissions=["User.Read.All"]
    )
    graph = Graph(graphsim, app_token(graphsim, sim_tenant))
    assert_graph_error(
        graph.post("/users", new_user_body(sim_tenant.domain)), 403, "Authorization_RequestDenied"
    )


def test_patch_and_delete_user(graph, sim_tenant: SimTenant) -> None:
    target = sim_tenant.users[2]["id"]
    assert graph.patch(f"/users/{target}", {"jobTitle": "Supervisor"}).status_code == 204
    assert graph.get(f"/users/{target}?$select=jobTitle").json()["jobTitle"] == "Supervisor"
    assert graph.delete(f"/users/{target}").status_code == 204
    assert graph.get(f"/users/{target}").status_code == 404


def test_group_members_are_listed(graphsim, graph, sim_tenant: SimTenant) -> None:
    members = [u["id"] for u in sim_tenant.users[:3]]
    group = graphsim.control.create_group(sim_tenant.tenant_id, "Agents", members)
    body = graph.get(f"/groups/{group['id']}/members?$select=id,displayName").json()
    assert sorted(m["id"] for m in body["value"]) == sorted(members)
    assert body["value"][0]["@odata.type"] == "#microsoft.graph.user"


def test_application_password_credentials_show_the_secret_expiry(
    graph, sim_tenant: SimTenant
) -> None:
    """docs/graph.md: GET /applications/{object-id}?$select=passwordCredentials → endDateTime."""
    body = graph.get(f"/applications/{sim_tenant.object_id}?$select=passwordCredentials").json()
    creds = body["passwordCredentials"]
    assert len(creds) == 1
    assert creds[0]["endDateTime"].endswith("Z")
    assert creds[0]["secretText"] is None
    assert {"keyId", "startDateTime", "hint", "displayName"} <= set(creds[0])
    assert "appId" not in body


def test_application_needs_application_read_all(graphsim, sim_tenant: SimTenant) -> None:
    graphsim.control.update_app(
        sim_tenant.tenant_id, sim_tenant.client_id, permissions=["User.Read.All"]
    )
    graph = Graph(graphsim, app_token(graphsim, sim_tenant))
    assert_graph_error(
        graph.get(f"/applications/{sim_tenant.object_id}"), 403, "Authorization_RequestDenied"
    )
