import pytest
from django.test import Client

from tests.factories import AdministratorFactory, SupervisorFactory

pytest_plugins = [
    "tests.plugins.graphsim_server",
    "tests.plugins.celery_worker",
    "tests.plugins.browser",
]


@pytest.fixture
def graph_settings(settings, graphsim):
    """Point the console's Graph settings at the session's simulator."""
    settings.GRAPH_AUTHORITY_HOST = graphsim.authority_host
    settings.GRAPH_BASE_URL = graphsim.graph_url
    settings.GRAPH_CA_BUNDLE = graphsim.ca_path
    return settings


@pytest.fixture
def administrator(db):
    return AdministratorFactory(username="ada")


@pytest.fixture
def supervisor(db):
    return SupervisorFactory(username="sam")


@pytest.fixture
def administrator_client(administrator) -> Client:
    client = Client()
    client.force_login(administrator)
    return client


@pytest.fixture
def supervisor_client(supervisor) -> Client:
    client = Client()
    client.force_login(supervisor)
    return client
