"""Redis, the broker (and cache), stopped while ACD events flow, then started again.

The test's own redis-server runs with no persistence, so a restart also loses
whatever was still queued: the worst case, as when Redis is replaced. What must
hold: no page answers 500 while Redis is away, the ACD is told to send again what
could not be queued, and once Redis is back every event is applied exactly once.
"""

from datetime import timedelta

import pytest
from django.db.models import F
from django.test import Client
from django.urls import reverse

from integrations.jobs import BROKER_UNREACHABLE
from integrations.models import JobRun
from presence.sync_models import AgentEvent, SyncRecord
from presence.to_teams.tasks import sessions_refresh
from tests.plugins.celery_worker import wait_for
from tests.presence.support_to_teams import (
    account_for,
    api_client,
    enabled_users,
    event,
    events_key,
    mapped_agent,
    post_events,
    publishing_rule,
    sim_presence,
)

pytestmark = [pytest.mark.worker, pytest.mark.serial]


def all_applied() -> bool:
    return not AgentEvent.objects.filter(processed_at__isnull=True).exists()


def test_redis_stopped_while_events_flow_loses_nothing_once_it_is_back(
    broker, start_worker, sim_tenant, graphsim, unit, administrator
):
    account_for(sim_tenant)
    rule = publishing_rule(unit)
    users = enabled_users(sim_tenant)[:8]
    agents = [mapped_agent(unit, user, rule=rule) for user in users]
    first, second = agents[:4], agents[4:]
    acd = api_client(events_key())
    admin = Client(raise_request_exception=False)
    admin.force_login(administrator)
    worker = start_worker(concurrency=1)
    # Slow Teams: the first batch is still being applied, the second still queued,
    # when Redis goes away.
    graphsim.control.add_fault(r"setPresence", status=None, delay_ms=500)

    assert post_events(acd, *(event(a, "working", sequence=1) for a in first)).status_code == 202
    assert post_events(acd, *(event(a, "working", sequence=1) for a in second)).status_code == 202
    wait_for(lambda: SyncRecord.objects.exists(), timeout=20, what="the first batch to start")
    broker.stop()

    # While Redis is away: the ACD is asked to send again, pages answer, jobs say why.
    during = [event(a, "available", sequence=2) for a in first]
    refused = post_events(acd, *during)
    assert refused.status_code == 503, refused.content
    assert refused["Content-Type"] == "application/problem+json"
    assert refused.json()["status"] == 503
    health = admin.get(reverse("console:healthz"))
    assert health.status_code == 503
    assert health.json()["checks"]["broker"]["ok"] is False
    for page in ("console:dashboard", "sync:board", "console:job_list"):
        assert admin.get(reverse(page)).status_code == 200, page
    started = admin.post(reverse("accounts:directory_sync"))
    assert started.status_code == 302
    job = JobRun.objects.get(kind="directory.sync")
    assert (job.status, job.error) == (JobRun.Status.FAILED, BROKER_UNREACHABLE)
    assert BROKER_UNREACHABLE in admin.get(reverse("console:job_detail", args=[job.pk])).text

    broker.start()  # empty: the second batch's task is lost with the old Redis
    graphsim.control.clear_faults()
    # The ACD sends the refused batch again: all duplicates, and now queued.
    resent = post_events(acd, *during)
    assert resent.status_code == 202, resent.content
    assert resent.json() == {"accepted": 0, "duplicates": len(during)}
    # A minute later, beat's minutely task sends again the events no task is left for.
    AgentEvent.objects.update(received_at=F("received_at") - timedelta(minutes=2))
    sessions_refresh.delay()

    wait_for(all_applied, timeout=60, what="every event applied after the restart")
    teams = {user["id"]: sim_presence(graphsim, sim_tenant, user["id"]) for user in users}
    for agent, user in zip(agents, users, strict=True):
        records = SyncRecord.objects.filter(agent=agent, direction=SyncRecord.Direction.TO_TEAMS)
        if agent in first:  # event 2 won; event 1 was applied before it, or overtaken
            assert teams[user["id"]] == ("Available", "Available")
            assert records.count() in (1, 2), list(records)
        else:  # event 1 applied once, by the sweep
            assert teams[user["id"]] == ("Busy", "InACall")
            assert records.count() == 1, list(records)
        assert set(records.values_list("outcome", flat=True)) == {SyncRecord.Outcome.APPLIED}
    assert worker.process.poll() is None, worker.log()  # the worker rode it out
    assert admin.get(reverse("console:healthz")).json()["checks"]["broker"]["ok"]


def test_with_redis_as_the_cache_too_the_api_and_the_webhook_still_answer(
    broker_and_cache, transactional_db, unit
):
    user = {"id": "0e6f1d2c-0000-4000-8000-00000000beef", "displayName": "Ana Ruiz",
            "userPrincipalName": "ana.ruiz@fabrikam.example"}  # fmt: skip
    agent = mapped_agent(unit, user)
    acd = Client(headers={"Authorization": f"Bearer {events_key()}"}, raise_request_exception=False)
    graph = Client(raise_request_exception=False)
    broker_and_cache.stop()

    refused = post_events(acd, event(agent, "working", sequence=1))
    junk = graph.post("/graph/notifications", data="{", content_type="application/json")

    assert refused.status_code == 503, refused.content
    assert junk.status_code == 400


def test_test_connection_started_while_redis_is_down_says_so_instead_of_polling(
    broker, transactional_db, sim_account, administrator_client
):
    broker.stop()

    response = administrator_client.post(
        reverse("integrations:test_connection"), headers={"HX-Request": "true"}
    )

    assert response.status_code == 200
    assert BROKER_UNREACHABLE in response.text
    assert 'hx-trigger="every 1s"' not in response.text
