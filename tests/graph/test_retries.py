"""Throttling and transient failures, against the simulator with injected
faults; waits are recorded, not slept.

docs/graph.md, "Batching, errors, throttling": 429 comes with Retry-After in seconds,
possibly fractional; without the header the client backs off exponentially; 503 and
504 alike.
"""

from __future__ import annotations

import dataclasses
import socket

import pytest

from graph.client import GraphClient
from graph.config import GraphConfig
from graph.errors import Throttled, Unavailable
from graph.http import make_session
from graph.tokens import AppTokenProvider
from tests.graph.conftest import SleepRecorder
from tests.plugins.graphsim_server import GraphSimServer, SimTenant


def users_path(sim_tenant: SimTenant) -> str:
    return f"/users/{sim_tenant.users[0]['id']}"


@pytest.mark.parametrize("retry_after", [2, 1.5, 0.25])
def test_a_429_is_survived_after_waiting_retry_after(
    graphsim: GraphSimServer,
    sim_tenant: SimTenant,
    client: GraphClient,
    sleeps: SleepRecorder,
    retry_after: float,
) -> None:
    path = users_path(sim_tenant)
    graphsim.control.add_fault(f"^/v1.0{path}$", status=429, retry_after=retry_after, times=1)
    assert client.get(path)["id"] == sim_tenant.users[0]["id"]
    assert sleeps.waits == [retry_after]
    assert client.request_count == 2


def test_a_post_is_retried_after_429(
    graphsim: GraphSimServer, sim_tenant: SimTenant, client: GraphClient, sleeps: SleepRecorder
) -> None:
    """Graph did not act on a throttled request, so even a POST is safe to resend."""
    graphsim.control.add_fault(
        "^/v1.0/communications/getPresencesByUserId$", status=429, retry_after=1, times=1
    )
    body = client.post("/communications/getPresencesByUserId", {"ids": [sim_tenant.users[0]["id"]]})
    assert len(body["value"]) == 1
    assert sleeps.waits == [1]


def test_503_without_retry_after_backs_off_exponentially_up_to_the_ceiling(
    graphsim: GraphSimServer,
    sim_tenant: SimTenant,
    config: GraphConfig,
    app_tokens: AppTokenProvider,
    sleeps: SleepRecorder,
) -> None:
    config = dataclasses.replace(config, max_retries=6, max_backoff=10.0, base_backoff=1.0)
    client = GraphClient(config, app_tokens, sleep=sleeps, jitter=lambda: 1.0)
    path = users_path(sim_tenant)
    graphsim.control.add_fault(f"^/v1.0{path}$", status=503, times=6)
    assert client.get(path) is not None
    assert sleeps.waits == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]


def test_jittered_backoff_stays_within_its_bounds(
    graphsim: GraphSimServer, sim_tenant: SimTenant, client: GraphClient, sleeps: SleepRecorder
) -> None:
    path = users_path(sim_tenant)
    graphsim.control.add_fault(f"^/v1.0{path}$", status=504, times=5)
    assert client.get(path) is not None
    assert len(sleeps.waits) == 5
    for attempt, wait in enumerate(sleeps.waits):
        assert 0 <= wait <= min(client.config.max_backoff, 2**attempt)


def test_throttling_that_outlasts_the_retries_is_throttled(
    graphsim: GraphSimServer, sim_tenant: SimTenant, client: GraphClient, sleeps: SleepRecorder
) -> None:
    path = users_path(sim_tenant)
    graphsim.control.add_fault(f"^/v1.0{path}$", status=429, retry_after=3)
    with pytest.raises(Throttled) as info:
        client.get(path)
    assert info.value.retry_after == 3
    assert info.value.code == "TooManyRequests"
    assert sleeps.waits == [3] * client.config.max_retries
    assert client.request_count == client.config.max_retries + 1


def test_a_retry_after_longer_than_max_backoff_is_left_to_the_caller(
    graphsim: GraphSimServer, sim_tenant: SimTenant, client: GraphClient, sleeps: SleepRecorder
) -> None:
    path = users_path(sim_tenant)
    graphsim.control.add_fault(f"^/v1.0{path}$", status=429, retry_after=120)
    with pytest.raises(Throttled) as info:
        client.get(path)
    assert info.value.retry_after == 120
    assert sleeps.waits == []


def test_5xx_that_outlasts_the_retries_is_unavailable(
    graphsim: GraphSimServer, sim_tenant: SimTenant, client: GraphClient, sleeps: SleepRecorder
) -> None:
    path = users_path(sim_tenant)
    graphsim.control.add_fault(f"^/v1.0{path}$", status=503)
    with pytest.raises(Unavailable) as info:
        client.get(path)
    assert (info.value.status, info.value.reason) == (503, "HTTP 503")
    assert len(sleeps.waits) == client.config.max_retries


def test_a_500_is_not_retried(
    graphsim: GraphSimServer, sim_tenant: SimTenant, client: GraphClient, sleeps: SleepRecorder
) -> None:
    path = users_path(sim_tenant)
    graphsim.control.add_fault(f"^/v1.0{path}$", status=500, times=1)
    with pytest.raises(Unavailable):
        client.get(path)
    assert sleeps.waits == []


def refused_graph(config: GraphConfig) -> GraphConfig:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return dataclasses.replace(config, graph_base_url=f"https://127.0.0.1:{port}/v1.0")


def test_a_refused_connection_is_retried_for_get_only(
    config: GraphConfig, app_tokens: AppTokenProvider, sleeps: SleepRecorder
) -> None:
    client = GraphClient(refused_graph(config), app_tokens, sleep=sleeps)
    with pytest.raises(Unavailable) as info:
        client.get("/users")
    assert info.value.reason == "connection refused"
    assert "connection refused" in str(info.value)
    assert len(sleeps.waits) == config.max_retries

    sleeps.waits.clear()
    with pytest.raises(Unavailable, match="connection refused"):
        client.post("/communications/getPresencesByUserId", {"ids": []})
    assert sleeps.waits == []  # the POST may have been received: never resent


def test_a_slow_graph_times_out(
    graphsim: GraphSimServer,
    sim_tenant: SimTenant,
    config: GraphConfig,
    app_tokens: AppTokenProvider,
    sleeps: SleepRecorder,
) -> None:
    app_tokens.acquire()  # so only Graph is slow, not the token endpoint
    config = dataclasses.replace(config, timeout=0.3, max_retries=1)
    client = GraphClient(config, app_tokens, sleep=sleeps)
    path = users_path(sim_tenant)
    graphsim.control.add_fault(f"^/v1.0{path}$", status=None, delay_ms=1500, times=2)
    with pytest.raises(Unavailable) as info:
        client.get(path)
    assert info.value.reason.startswith("timed out")
    assert len(sleeps.waits) == 1


def test_an_untrusted_graph_certificate_fails_at_once_with_a_tls_reason(
    config: GraphConfig, app_tokens: AppTokenProvider, sleeps: SleepRecorder
) -> None:
    untrusting = make_session(dataclasses.replace(config, ca_bundle=None))
    client = GraphClient(config, app_tokens, session=untrusting, sleep=sleeps)
    with pytest.raises(Unavailable) as info:
        client.get("/users")
    assert info.value.reason.startswith("TLS certificate not trusted")
    assert sleeps.waits == []  # retrying cannot fix a certificate
