"""A restart keeps the directory: users created through Graph still sign in,
deletions stay deleted, the demo tenant keeps what the console made in it."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from graphsim.launch import launch
from tests.graphsim.support import GRAPH_SCOPE, Graph
from tests.plugins.graphsim_server import (
    CCBRIDGE_APPLICATION_PERMISSIONS,
    CCBRIDGE_DELEGATED_PERMISSIONS,
    ControlClient,
    GraphSimServer,
    trusted_session,
)

# Each test starts simulator processes of its own (and kills some).
pytestmark = pytest.mark.simulator

PASSWORD = "Presence-Passw0rd!"


@contextmanager
def running(data_dir: Path, *, seed: str = "none", kill: bool = False) -> Iterator[GraphSimServer]:
    """A private simulator on ``data_dir``; stopped with SIGTERM, or SIGKILL
    (no chance to save on the way out) when ``kill``."""
    launched = launch(data_dir, seed=seed)
    server = GraphSimServer(
        authority_host=launched.base_url,
        graph_url=f"{launched.base_url}/v1.0",
        base_url=launched.base_url,
        ca_path=launched.ca_path,
        data_dir=data_dir,
        control=ControlClient(launched.base_url, launched.ca_path),
        process=launched.process,
    )
    try:
        yield server
    finally:
        launched.process.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
        try:
            launched.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            launched.process.kill()


def _token(server: GraphSimServer, tenant: str, form: dict[str, str]):
    return trusted_session(server.ca_path).post(
        f"{server.authority_host}/{tenant}/oauth2/v2.0/token", data=form, timeout=30
    )


def _app_graph(server: GraphSimServer, tenant: str, client_id: str, secret: str) -> Graph:
    response = _token(
        server,
        tenant,
        {"grant_type": "client_credentials", "client_id": client_id,
         "client_secret": secret, "scope": GRAPH_SCOPE},
    )  # fmt: skip
    assert response.status_code == 200, response.text
    return Graph(server, response.json()["access_token"])


def _sign_in(server: GraphSimServer, tenant: str, client_id: str, secret: str, upn: str):
    return _token(
        server,
        tenant,
        {"grant_type": "password", "client_id": client_id, "client_secret": secret,
         "username": upn, "password": PASSWORD,
         "scope": "https://graph.microsoft.com/Presence.Read.All"},
    )  # fmt: skip


def _create_user(graph: Graph, upn: str) -> dict:
    response = graph.post(
        "/users",
        {"accountEnabled": True, "displayName": "ccbridge presence 1",
         "mailNickname": upn.split("@")[0], "userPrincipalName": upn,
         "passwordProfile": {"password": PASSWORD, "forceChangePasswordNextSignIn": False}},
    )  # fmt: skip
    assert response.status_code == 201, response.text
    return response.json()


def _tenant_with_app(server: GraphSimServer) -> tuple[dict, dict]:
    tenant = server.control.create_tenant(domain="fabrikam.example", users=10, seed=3)
    app = server.control.create_app(
        tenant["tenant_id"],
        permissions=CCBRIDGE_APPLICATION_PERMISSIONS,
        delegated=CCBRIDGE_DELEGATED_PERMISSIONS,
    )
    return tenant, app


def _wait_until_saved(server: GraphSimServer) -> None:
    deadline = time.monotonic() + 10
    while server.control.health()["unsaved_tenants"] and time.monotonic() < deadline:
        time.sleep(0.1)
    assert server.control.health()["unsaved_tenants"] == 0


def test_a_user_created_through_graph_signs_in_after_a_restart(tmp_path: Path) -> None:
    with running(tmp_path) as server:
        tenant, app = _tenant_with_app(server)
        graph = _app_graph(server, tenant["tenant_id"], app["client_id"], app["client_secret"])
        upn = "ccbridge_presence_1@fabrikam.example"
        made = _create_user(graph, upn)

    with running(tmp_path) as server:
        signed_in = _sign_in(
            server, tenant["tenant_id"], app["client_id"], app["client_secret"], upn
        )
        assert signed_in.status_code == 200, signed_in.text
        graph = _app_graph(server, tenant["tenant_id"], app["client_id"], app["client_secret"])
        assert graph.get(f"/users/{upn}").json()["id"] == made["id"]


def test_changes_are_saved_soon_without_waiting_for_a_clean_shutdown(tmp_path: Path) -> None:
    with running(tmp_path, kill=True) as server:
        tenant, app = _tenant_with_app(server)
        graph = _app_graph(server, tenant["tenant_id"], app["client_id"], app["client_secret"])
        kept = _create_user(graph, "kept@fabrikam.example")
        gone = _create_user(graph, "gone@fabrikam.example")
        assert graph.delete(f"/users/{gone['id']}").status_code == 204
        _wait_until_saved(server)

    with running(tmp_path) as server:
        graph = _app_graph(server, tenant["tenant_id"], app["client_id"], app["client_secret"])
        assert graph.get(f"/users/{kept['id']}").status_code == 200
        assert graph.get(f"/users/{gone['id']}").status_code == 404


def test_presence_sequence_numbers_keep_growing_across_a_crash(tmp_path: Path) -> None:
    # Clients drop a notification whose sequenceNumber is older than the last they saw.
    with running(tmp_path, kill=True) as server:
        tenant, _app = _tenant_with_app(server)
        user = server.control.list_users(tenant["tenant_id"])[0]["id"]
        for availability in ("Busy", "Away", "Available"):
            before = server.control.set_presence(
                tenant["tenant_id"], user, availability, availability
            )
        _wait_until_saved(server)

    with running(tmp_path) as server:
        after = server.control.set_presence(tenant["tenant_id"], user, "Busy", "InACall")

    assert int(after["sequenceNumber"]) > int(before["sequenceNumber"])


def test_a_deleted_tenant_stays_deleted_after_a_restart(tmp_path: Path) -> None:
    with running(tmp_path) as server:
        tenant, _app = _tenant_with_app(server)
        _wait_until_saved(server)
        server.control.delete_tenant(tenant["tenant_id"])

    with running(tmp_path) as server:
        assert server.control.health()["tenants"] == 0


def test_the_demo_tenant_keeps_users_the_console_created_in_it(tmp_path: Path) -> None:
    with running(tmp_path, seed="demo") as server:
        demo = json.loads((tmp_path / "demo-tenant.json").read_text())
        graph = _app_graph(server, demo["tenant_id"], demo["client_id"], demo["client_secret"])
        upn = f"ccbridge_presence_1@{demo['domain']}"
        _create_user(graph, upn)

    with running(tmp_path, seed="demo") as server:
        assert json.loads((tmp_path / "demo-tenant.json").read_text()) == demo
        signed_in = _sign_in(
            server, demo["tenant_id"], demo["client_id"], demo["client_secret"], upn
        )
        assert signed_in.status_code == 200, signed_in.text
        log = (tmp_path / "graphsim.log").read_text()
        assert "kept tenants: 1" in log


def test_an_expired_demo_secret_works_again_after_a_restart(tmp_path: Path) -> None:
    with running(tmp_path, seed="demo") as server:
        demo = json.loads((tmp_path / "demo-tenant.json").read_text())
        server.control.expire_secrets(demo["tenant_id"], demo["client_id"])
        _wait_until_saved(server)

    with running(tmp_path, seed="demo") as server:
        again = json.loads((tmp_path / "demo-tenant.json").read_text())
        assert again["client_secret"] == demo["client_secret"]
        _app_graph(server, demo["tenant_id"], demo["client_id"], demo["client_secret"])


def test_saved_tenants_are_readable_by_their_owner_only(tmp_path: Path) -> None:
    with running(tmp_path) as server:
        _tenant_with_app(server)
        _wait_until_saved(server)
    files = list((tmp_path / "tenants").glob("*.json"))
    assert len(files) == 1
    assert files[0].stat().st_mode & 0o077 == 0


def test_an_unreadable_saved_tenant_stops_the_start_and_names_the_file(tmp_path: Path) -> None:
    folder = tmp_path / "tenants"
    folder.mkdir()
    broken = folder / "0b2f7c1e-0000-4000-8000-000000000000.json"
    broken.write_text('{"format": 1, "id": ')
    with pytest.raises(RuntimeError) as failure:
        launch(tmp_path)
    assert f"cannot read the saved tenant {broken}" in str(failure.value)
    assert broken.read_text() == '{"format": 1, "id": '
