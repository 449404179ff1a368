"""Typed directory calls: reading one user (the connection test), the app's
secret expiry, and user records."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from graph.client import GraphClient
from graph.config import AppCredentials, GraphConfig
from graph.directory import (
    USER_SELECT,
    DirectoryUserRecord,
    password_credentials,
    read_one_user,
)
from graph.errors import NotFound, PermissionDenied
from graph.tokens import AppTokenProvider
from tests.plugins.graphsim_server import GraphSimServer, SimTenant


def test_user_select_is_the_documented_property_list() -> None:
    """docs/graph.md, "Directory": the properties we show."""
    assert USER_SELECT == (
        "id", "displayName", "mail", "userPrincipalName", "otherMails", "proxyAddresses",
        "businessPhones", "mobilePhone", "faxNumber", "accountEnabled", "jobTitle", "department",
    )  # fmt: skip


def test_read_one_user_reads_exactly_one(
    graphsim: GraphSimServer, sim_tenant: SimTenant, client: GraphClient
) -> None:
    record = read_one_user(client)
    assert record is not None
    assert record.id in {u["id"] for u in sim_tenant.users}
    assert record.display_name
    [call] = [c for c in graphsim.control.calls(tenant=sim_tenant.tenant_id)
              if c["path"] == "/v1.0/users"]  # fmt: skip
    assert "top=1" in call["query"]


def test_read_one_user_without_user_read_all_is_permission_denied(
    graphsim: GraphSimServer,
    sim_tenant: SimTenant,
    config: GraphConfig,
    credentials: AppCredentials,
) -> None:
    graphsim.control.update_app(
        sim_tenant.tenant_id, sim_tenant.client_id, permissions=["Application.Read.All"]
    )
    with pytest.raises(PermissionDenied):
        read_one_user(GraphClient(config, AppTokenProvider(config, credentials)))


def test_password_credentials_read_the_secrets_end_date(
    graphsim: GraphSimServer, sim_tenant: SimTenant, client: GraphClient
) -> None:
    """docs/graph.md: GET /applications/{object-id}?$select=passwordCredentials → endDateTime."""
    end = datetime(2031, 5, 17, 8, 30, tzinfo=UTC)
    graphsim.control.update_app(sim_tenant.tenant_id, sim_tenant.client_id, secret_expires_at=end)
    [secret] = password_credentials(client, sim_tenant.object_id)
    assert secret.end == end
    assert secret.start is not None and secret.start < end
    assert secret.key_id
    assert secret.hint and sim_tenant.client_secret.startswith(secret.hint)


def test_password_credentials_of_an_unknown_object_id_is_not_found(client: GraphClient) -> None:
    with pytest.raises(NotFound):
        password_credentials(client, "00000000-0000-0000-0000-000000000001")


def test_a_removed_delta_item_becomes_a_marked_record() -> None:
    """docs/graph.md: removed users come as {"id", "@removed":{"reason":"changed"|"deleted"}}."""
    record = DirectoryUserRecord.from_graph({"id": "u1", "@removed": {"reason": "changed"}})
    assert (record.id, record.removed_reason, record.display_name) == ("u1", "changed", "")
    full = DirectoryUserRecord.from_graph(
        {"id": "u2", "displayName": "Ann", "otherMails": ["a@x.example"], "accountEnabled": False}
    )
    assert full.other_mails == ("a@x.example",)
    assert full.account_enabled is False
    assert full.removed_reason is None
