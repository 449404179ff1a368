import time
import uuid

import pytest
from django.test import Client

from presence.webhook import lookups as webhook_lookups
from tests.factories import AdministratorFactory, SupervisorFactory
from tests.integrations.factories import IntegrationAccountFactory

pytest_plugins = [
    "tests.support.clock",
    "tests.plugins.graphsim_server",
    "tests.plugins.celery_worker",
    "tests.plugins.browser",
    "tests.plugins.hypothesis_profiles",
    "tests.plugins.passes",
]


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """Users are made with a password and mostly signed in with force_login: the
    production hasher's 1.5 million PBKDF2 rounds would cost about a second a user."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _fresh_rate_limits(settings):
    """Every test counts API calls and webhook refusals from zero.

    The counters live in the cache, which CI shares between tests (one Redis
    database); a prefix of its own per test keeps them apart.
    """
    settings.RATELIMIT_KEY_PREFIX = f"ratelimit-test-{uuid.uuid4().hex}"


@pytest.fixture(autouse=True)
def _fresh_webhook_lookups():
    """The webhook remembers subscriptions and clientStates by primary key for 30 s in
    the process. A test's rolled-back rows hand their keys to the next test on SQLite,
    so each test starts with nothing remembered."""
    for cache in (
        webhook_lookups.recent_subscriptions,
        webhook_lookups.recent_unknown_subscriptions,
        webhook_lookups.recent_accounts,
        webhook_lookups.recent_keys,
        webhook_lookups.recent_client_states,
    ):
        cache.clear()


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


DEFAULT_CLIENT = "11111111-2222-3333-4444-555555555555"


@pytest.fixture
def make_account(db):
    """Store an integration account directly (forms and services are tested elsewhere)."""

    def make(
        *, tenant="contoso.example", client_id=DEFAULT_CLIENT, secret="s3cret-value~abc", **fields
    ):
        return IntegrationAccountFactory(
            tenant=tenant, client_id=client_id, client_secret=secret, **fields
        )

    return make


@pytest.fixture
def sim_account(make_account, sim_tenant, graph_settings):
    """The integration account pointed at a fresh, fully consented simulator tenant."""
    return make_account(
        tenant=sim_tenant.tenant_id,
        client_id=sim_tenant.client_id,
        secret=sim_tenant.client_secret,
        object_id=sim_tenant.object_id,
    )


@pytest.fixture
def rate_limit_window(clock):
    """Rate limits count per clock minute: start a test early enough in one to end in it."""
    from config import ratelimit

    left = ratelimit.WINDOW_SECONDS - time.time() % ratelimit.WINDOW_SECONDS
    if left < 10:
        clock.advance(left + 0.1)
