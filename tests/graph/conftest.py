"""Fixtures for the graph/ tests: a GraphConfig, credentials and clients
pointed at the simulator (``graphsim``/``sim_tenant`` come from
``tests.plugins.graphsim_server``), and a sleep recorder so retry tests
observe the waits instead of waiting."""

from __future__ import annotations

import pytest

from graph.client import GraphClient
from graph.config import AppCredentials, GraphConfig
from graph.tokens import AppTokenProvider
from tests.plugins.graphsim_server import GraphSimServer, SimTenant


class SleepRecorder:
    """Stands in for time.sleep: remembers each requested wait."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture
def config(graphsim: GraphSimServer) -> GraphConfig:
    return GraphConfig(
        authority_host=graphsim.authority_host,
        graph_base_url=graphsim.graph_url,
        ca_bundle=graphsim.ca_path,
        timeout=10.0,
    )


@pytest.fixture
def credentials(sim_tenant: SimTenant) -> AppCredentials:
    return AppCredentials(sim_tenant.tenant_id, sim_tenant.client_id, sim_tenant.client_secret)


@pytest.fixture
def app_tokens(config: GraphConfig, credentials: AppCredentials) -> AppTokenProvider:
    return AppTokenProvider(config, credentials)


@pytest.fixture
def sleeps() -> SleepRecorder:
    return SleepRecorder()


@pytest.fixture
def client(config: GraphConfig, app_tokens: AppTokenProvider, sleeps: SleepRecorder) -> GraphClient:
    return GraphClient(config, app_tokens, sleep=sleeps)
