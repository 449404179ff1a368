"""PostgreSQL drops every connection of the console (a failover, a restart, an idle
timeout in a proxy) while the web server and a worker are busy.

The web server keeps its connections (CONN_MAX_AGE) and checks them at the start
of each request (CONN_HEALTH_CHECKS), so no page after the drop may answer 500.
The worker checks its connections before each task; work cut off mid-task is
retried and ends applied once.
"""

import psycopg
import pytest
from django.db import close_old_connections, connection
from django.test import Client
from django.urls import reverse

from presence.sync_models import AgentEvent, SyncRecord
from tests.plugins.celery_worker import wait_for
from tests.presence.support_to_teams import (
    EVENTS,
    account_for,
    enabled_users,
    event,
    events_key,
    mapped_agent,
    publishing_rule,
    sim_presence,
)

pytestmark = [pytest.mark.worker, pytest.mark.serial]

PAGES = ("console:dashboard", "sync:board", "console:job_list", "accounts:directory")


@pytest.fixture(autouse=True)
def postgresql_only():
    if connection.vendor != "postgresql":
        pytest.skip("pg_terminate_backend is PostgreSQL's")


def drop_every_connection() -> int:
    """Terminate every backend of the test database but the one asking; return how many."""
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    with psycopg.connect(**params, autocommit=True) as admin:
        rows = admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchall()
    close_old_connections()  # this test's own connection was among them
    connection.close()
    return len(rows)


def test_no_page_fails_after_the_database_drops_its_connections_and_work_is_retried(
    web_server, start_worker, sim_tenant, graphsim, unit, administrator
):
    account_for(sim_tenant)
    rule = publishing_rule(unit)
    users = enabled_users(sim_tenant)[:6]
    agents = [mapped_agent(unit, user, rule=rule) for user in users]
    signed_in = Client()
    signed_in.force_login(administrator)
    browser = web_server.session(signed_in)
    acd = web_server.session()
    acd.headers["Authorization"] = f"Bearer {events_key()}"
    worker = start_worker()

    def get(name: str) -> int:
        return browser.get(web_server.url + reverse(name), timeout=30).status_code

    def post_events(*events: dict) -> int:
        return acd.post(web_server.url + EVENTS, json={"events": list(events)}, timeout=30)

    assert [get(page) for page in PAGES] == [200] * len(PAGES)  # connections now open
    graphsim.control.add_fault(r"setPresence", status=None, delay_ms=700)
    assert post_events(*(event(a, "working", sequence=1) for a in agents)).status_code == 202
    wait_for(lambda: SyncRecord.objects.exists(), timeout=20, what="the worker to start")

    assert drop_every_connection() >= 2  # the web server's and the worker's at least

    assert [get(page) for page in PAGES] == [200] * len(PAGES), web_server.log()
    accepted = post_events(*(event(a, "available", sequence=2) for a in agents[:3]))
    assert accepted.status_code == 202, accepted.text
    graphsim.control.clear_faults()
    # The task the drop cut off is retried: nothing waits for the minutely sweep.
    wait_for(
        lambda: not AgentEvent.objects.filter(processed_at__isnull=True).exists(),
        timeout=30,
        what="every event applied",
    )
    for index, (agent, user) in enumerate(zip(agents, users, strict=True)):
        expected = ("Available", "Available") if index < 3 else ("Busy", "InACall")
        assert sim_presence(graphsim, sim_tenant, user["id"]) == expected, worker.log()
        records = SyncRecord.objects.filter(agent=agent, outcome=SyncRecord.Outcome.APPLIED)
        assert 1 <= records.count() <= 2
    assert "Internal Server Error" not in web_server.log()
    assert "Retry in" in worker.log()
