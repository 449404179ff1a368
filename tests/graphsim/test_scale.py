"""docs/graph.md Directory: GET /users?$select=…&$top=999 pages through @odata.nextLink.
50,000 users at 999 a page is ceil(50000/999) = 51 pages."""

from __future__ import annotations

import uuid

from tests.graphsim.support import Graph, token_response


def test_fifty_thousand_users_page_through_at_999(graphsim) -> None:
    control = graphsim.control
    tenant = control.create_tenant(
        domain=f"big{uuid.uuid4().hex[:8]}.example", users=50_000, seed=7
    )
    try:
        app = control.create_app(tenant["tenant_id"], permissions=["User.Read.All"])
        token = token_response(
            graphsim,
            tenant["tenant_id"],
            {"grant_type": "client_credentials", "client_id": app["client_id"],
             "client_secret": app["client_secret"],
             "scope": "https://graph.microsoft.com/.default"},
        ).json()["access_token"]  # fmt: skip
        graph = Graph(graphsim, token)
        url = "/users?$select=id,userPrincipalName&$top=999"
        pages, ids = 0, set()
        while url:
            body = graph.get(url).json()
            pages += 1
            ids.update(u["id"] for u in body["value"])
            url = body.get("@odata.nextLink")
        assert pages == 51
        assert len(ids) == 50_000
    finally:
        control.delete_tenant(tenant["tenant_id"])
