"""A worker killed with SIGKILL in the middle of a job (the OOM killer, a lost VM).

acks_late + reject_on_worker_lost give the message back to the broker when the
process running it dies, so another process runs it again. These tests kill the
pool process that runs the task, on a Redis and a worker of their own, and check
what the contact center and an administrator would see once it has run again.
"""

import contextlib
import os
import signal
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse

from accounts.models import DirectoryUser
from integrations.jobs import jobs_recover
from integrations.models import JobRun
from presence.sync_models import AgentEvent, SyncRecord
from tests.plugins.celery_worker import WorkerProcess, wait_for
from tests.plugins.graphsim_server import (
    CCBRIDGE_APPLICATION_PERMISSIONS,
    CCBRIDGE_DELEGATED_PERMISSIONS,
    GraphSimControlError,
    SimTenant,
)
from tests.presence.support_to_teams import (
    account_for,
    api_client,
    enabled_users,
    event,
    events_key,
    mapped_agent,
    post_events,
    publishing_rule,
    sim_calls,
    sim_presence,
)

pytestmark = [pytest.mark.worker, pytest.mark.serial]

# More than two of Graph's 999-user pages, so the kill lands between saved pages.
LARGE_TENANT_USERS = 2500


@pytest.fixture
def large_tenant(graphsim):
    control = graphsim.control
    domain = f"kill{uuid.uuid4().hex[:10]}.example"
    tenant = control.create_tenant(name="Tailspin", domain=domain, users=LARGE_TENANT_USERS)
    app = control.create_app(
        tenant["tenant_id"],
        permissions=CCBRIDGE_APPLICATION_PERMISSIONS,
        delegated=CCBRIDGE_DELEGATED_PERMISSIONS,
        secret_expires_at=datetime.now(UTC) + timedelta(days=60),
    )
    yield SimTenant(
        tenant_id=tenant["tenant_id"],
        domain=tenant["domain"],
        name=tenant["name"],
        client_id=app["client_id"],
        client_secret=app["client_secret"],
        object_id=app["object_id"],
        users=[],
        authority=f"{graphsim.authority_host}/{tenant['tenant_id']}",
    )
    control.clear_faults()
    with contextlib.suppress(GraphSimControlError):
        control.delete_tenant(tenant["tenant_id"])


def kill_the_running_task(worker: WorkerProcess) -> None:
    [pool_process] = worker.pool_pids()
    os.kill(pool_process, signal.SIGKILL)


def test_a_directory_sync_killed_midway_runs_again_and_ends_complete_without_duplicates(
    start_worker, large_tenant, graphsim, administrator_client
):
    account_for(large_tenant)
    worker = start_worker()
    # Slow pages, so the kill lands while the second page is on its way.
    graphsim.control.add_fault(r"/users/delta", status=None, delay_ms=1500)

    administrator_client.post(reverse("accounts:directory_sync"))
    job = JobRun.objects.get(kind="directory.sync")
    wait_for(lambda: DirectoryUser.objects.count() >= 999, timeout=60, what="the first page saved")
    kill_the_running_task(worker)

    finished = wait_for(
        lambda: JobRun.objects.filter(pk=job.pk, finished_at__isnull=False).first(),
        timeout=90,
        what="the sync to finish after the kill",
    )
    assert finished.status == JobRun.Status.SUCCEEDED, (finished.error, worker.log())
    assert "WorkerLostError" in worker.log() or "SIGKILL" in worker.log()
    assert DirectoryUser.objects.count() == LARGE_TENANT_USERS
    # Every user saved exactly once: the run after the kill resumed after the saved pages.
    assert finished.counts["created"] == LARGE_TENANT_USERS
    assert finished.counts.get("updated", 0) == 0, finished.counts
    page = administrator_client.get(reverse("accounts:directory"))
    assert page.status_code == 200


def test_a_directory_sync_whose_whole_worker_died_is_sent_again_and_completes(
    start_worker, large_tenant, graphsim, administrator_client, settings
):
    # The whole worker is gone (SIGKILL to it and its pool, a lost machine): no process
    # gives the message back, so the job's silent heartbeat is what gets it run again.
    settings.JOB_STALE_AFTER_SECONDS = 3
    account_for(large_tenant)
    beat = {"JOB_HEARTBEAT_SECONDS": "1"}
    worker = start_worker(env=beat)
    graphsim.control.add_fault(r"/users/delta", status=None, delay_ms=1500)

    administrator_client.post(reverse("accounts:directory_sync"))
    job = JobRun.objects.get(kind="directory.sync")
    wait_for(lambda: DirectoryUser.objects.count() >= 999, timeout=60, what="the first page saved")
    worker.kill()
    wait_for(
        lambda: jobs_recover()["resent"] == 1, timeout=30, what="the silent job to be sent again"
    )
    start_worker(env=beat, name="replacement")

    finished = wait_for(
        lambda: JobRun.objects.filter(pk=job.pk, finished_at__isnull=False).first(),
        timeout=90,
        what="the sync sent again to finish",
    )
    assert finished.status == JobRun.Status.SUCCEEDED, finished.error
    assert finished.attempt == 2
    assert DirectoryUser.objects.count() == LARGE_TENANT_USERS
    assert finished.counts["created"] == LARGE_TENANT_USERS
    assert finished.counts.get("updated", 0) == 0, finished.counts


def test_an_event_batch_killed_midway_is_applied_once_for_every_agent(
    start_worker, sim_tenant, graphsim, unit
):
    account_for(sim_tenant)
    rule = publishing_rule(unit)
    users = enabled_users(sim_tenant)[:12]
    agents = [mapped_agent(unit, user, rule=rule) for user in users]
    worker = start_worker()
    graphsim.control.add_fault(r"setPresence", status=None, delay_ms=400)
    since = datetime.now(UTC)

    response = post_events(
        api_client(events_key()), *(event(agent, "working", sequence=1) for agent in agents)
    )
    assert response.status_code == 202
    wait_for(lambda: SyncRecord.objects.count() >= 3, timeout=30, what="a few agents applied")
    kill_the_running_task(worker)

    wait_for(
        lambda: not AgentEvent.objects.filter(processed_at__isnull=True).exists(),
        timeout=60,
        what="every event applied after the kill",
    )
    graphsim.control.clear_faults()
    for agent in agents:
        [record] = SyncRecord.objects.filter(agent=agent)  # one history line per event
        assert record.outcome == SyncRecord.Outcome.APPLIED, record.detail
    for user in users:
        assert sim_presence(graphsim, sim_tenant, user["id"]) == ("Busy", "InACall")
    # At most the call in flight at the kill was sent twice (setPresence is idempotent).
    calls = sim_calls(graphsim, sim_tenant, "setPresence", since)
    assert len(agents) <= len(calls) <= len(agents) + 1
