"""The control API: faults (status, Retry-After, delay, times), the call log,
health, and the CLI's demo tenant that survives restarts."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from tests.graphsim.test_graph_auth import assert_graph_error
from tests.plugins.graphsim_server import SimTenant


def test_health(graphsim) -> None:
    assert graphsim.control.health()["status"] == "ok"


def test_fault_answers_429_with_retry_after_a_number_of_times(graphsim, graph) -> None:
    graphsim.control.add_fault(r"^/v1\.0/users$", status=429, retry_after=1.5, times=2)
    for _ in range(2):
        response = graph.get("/users")
        assert_graph_error(response, 429, "TooManyRequests")
        assert response.headers["Retry-After"] == "1.5"
    assert graph.get("/users").status_code == 200


def test_fault_with_only_a_delay_slows_the_answer(graphsim, graph) -> None:
    graphsim.control.add_fault(r"^/v1\.0/users$", status=None, delay_ms=400, times=1)
    started = time.monotonic()
    assert graph.get("/users").status_code == 200
    assert time.monotonic() - started >= 0.4


def test_token_endpoint_faults(graphsim, sim_tenant: SimTenant) -> None:
    from tests.graphsim.support import token_response

    graphsim.control.add_fault(r"/oauth2/v2.0/token$", status=503, retry_after=1, times=1)
    response = token_response(graphsim, sim_tenant.tenant_id, {"grant_type": "client_credentials"})
    assert response.status_code == 503
    assert response.json()["error"] == "temporarily_unavailable"


def test_clear_faults(graphsim, graph) -> None:
    graphsim.control.add_fault(r"^/v1\.0/users$", status=500)
    graphsim.control.clear_faults()
    assert graph.get("/users").status_code == 200


def test_calls_are_logged_with_app_and_tenant(graphsim, graph, sim_tenant: SimTenant) -> None:
    since = datetime.now(UTC)
    graph.get("/users?$top=1")
    calls = [c for c in graphsim.control.calls(since=since) if c["path"] == "/v1.0/users"]
    assert calls[-1]["method"] == "GET"
    assert calls[-1]["status"] == 200
    assert calls[-1]["app"] == sim_tenant.client_id
    assert calls[-1]["tenant"] == sim_tenant.tenant_id


def test_demo_tenant_is_stable_across_restarts(tmp_path: Path) -> None:
    """CLI: --seed demo writes demo-tenant.json; ids, secret and CA survive a restart."""

    def run_once() -> tuple[dict, bytes]:
        log = tmp_path / "log.txt"
        with open(log, "wb") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "graphsim", "serve", "--port", "0", "--data-dir",
                 str(tmp_path), "--seed", "demo"],
                stdout=out, stderr=subprocess.STDOUT, cwd=Path(__file__).resolve().parents[2],
            )  # fmt: skip
        try:
            deadline = time.monotonic() + 60
            while "ready:" not in log.read_text() and time.monotonic() < deadline:
                time.sleep(0.05)
            text = log.read_text()
            assert "ready:" in text, text
            assert "authority host: https://127.0.0.1:" in text
            assert "graph base url: https://127.0.0.1:" in text
        finally:
            process.terminate()
            process.wait(timeout=10)
        return json.loads((tmp_path / "demo-tenant.json").read_text()), (
            tmp_path / "ca.pem"
        ).read_bytes()

    first, ca_first = run_once()
    second, ca_second = run_once()
    assert first == second
    assert ca_first == ca_second
    assert first["domain"] == "contoso.onmicrosoft.com"
    assert {"tenant_id", "client_id", "object_id", "client_secret"} <= set(first)
