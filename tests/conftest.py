import pytest
from django.test import Client

from tests.factories import AdministratorFactory, SupervisorFactory

pytest_plugins = ["tests.plugins.celery_worker", "tests.plugins.browser"]


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
