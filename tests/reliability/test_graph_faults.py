"""Graph faults, injected through the simulator, survived by real jobs in a real worker.

Each fault, what the product does about it ("here" or where the test lives):

- 429 burst + Retry-After on /users/delta → the sync waits as asked and saves every
  user; the job succeeds. Here.
- 503 longer than the client's retries → the sync job fails with a readable reason on
  its page; the next sync completes. Here.
- slow Graph (2 s a page) → the sync is slower, nothing else changes. Here.
- slower than the 30 s client timeout → Unavailable "timed out", retried for GETs only.
  tests/graph/test_retries.py.
- token endpoint answers 503 → token health on the account page shows the failure,
  jobs fail saying so; the next refresh succeeds and clears it. Here.
- expired client secret → the account page shows the AADSTS7000222 sentence; Test
  connection says "Error: Failed to request refresh token" and why. Here.
- 429 on setPresence beyond the client's retries → the task retries with backoff and
  the newest event wins. tests/presence/test_to_teams_sync.py (real worker).
- 429 on getPresencesByUserId → waited out, within 1,500 calls / 30 s.
  tests/presence/test_reconcile.py.
- lifecycle subscriptionRemoved → a new subscription for the same members, and their
  presence reconciled. Here.
- lifecycle missed → its members reconciled, the subscription kept.
  tests/presence/test_lifecycle_end_to_end.py.
- lifecycle reauthorizationRequired → renewed at once; a 404 on renewal → recreated.
  tests/presence/test_subscriptions.py.

Infrastructure faults live beside this module: test_broker_outage.py (Redis stopped
and restarted), test_worker_killed.py (SIGKILL mid-job), test_database_dropped.py
(PostgreSQL drops every connection), test_webhook_saturated.py (3 s acknowledgement).
"""

from datetime import UTC, datetime
from itertools import pairwise

import pytest
from django.urls import reverse

from accounts.models import DirectoryUser
from integrations.models import ConnectionTest, IntegrationAccount, JobRun
from integrations.tasks import refresh_account_token
from presence.subscriptions.services import subscriptions_sync
from presence.subscriptions.system_users import system_user_add, system_user_check
from presence.sync_models import AgentPresence, Subscription, SystemUser
from tests.plugins.celery_worker import wait_for
from tests.presence.support_sync import SYSTEM_PASSWORD, sim_system_user
from tests.presence.support_to_teams import enabled_users, mapped_agent, publishing_rule

pytestmark = [pytest.mark.worker, pytest.mark.serial]

DELTA = r"/users/delta"
TOKEN = r"/oauth2/v2.0/token"
EXPIRED_SENTENCE = "The client secret has expired (AADSTS7000222)."


def sync_to_the_end(client) -> JobRun:
    """Press "Sync now" as an administrator; return the job once it has finished."""
    client.post(reverse("accounts:directory_sync"))
    job = JobRun.objects.filter(kind="directory.sync").first()
    return wait_for(
        lambda: JobRun.objects.filter(pk=job.pk, finished_at__isnull=False).first(),
        timeout=60,
        what="the directory sync",
    )


def delta_calls(graphsim, since: datetime) -> list[dict]:
    return [c for c in graphsim.control.calls(since=since) if c["path"].endswith("/users/delta")]


def at(call: dict) -> datetime:
    return datetime.fromisoformat(call["time"][:26].rstrip("Z") + "+00:00")


def test_a_429_burst_is_waited_out_as_graph_asks_and_the_sync_completes(
    celery_worker, sim_account, sim_tenant, graphsim, administrator_client
):
    graphsim.control.add_fault(DELTA, status=429, retry_after=1, times=3)
    since = datetime.now(UTC)

    job = sync_to_the_end(administrator_client)

    assert job.status == JobRun.Status.SUCCEEDED, job.error
    assert DirectoryUser.objects.count() == len(sim_tenant.users)
    calls = delta_calls(graphsim, since)
    assert [c["status"] for c in calls] == [429, 429, 429, 200]
    waits = [(at(b) - at(a)).total_seconds() for a, b in pairwise(calls)]
    assert min(waits) >= 0.95, waits  # Retry-After: 1 honoured every time


def test_graph_unavailable_past_the_retries_fails_the_job_visibly_and_the_next_sync_completes(
    celery_worker, sim_account, sim_tenant, graphsim, administrator_client
):
    graphsim.control.add_fault(DELTA, status=503, retry_after=0.2)

    failed = sync_to_the_end(administrator_client)

    assert failed.status == JobRun.Status.FAILED
    assert "503" in failed.error or "unavailable" in failed.error.lower(), failed.error
    page = administrator_client.get(reverse("console:job_detail", args=[failed.pk]))
    assert page.status_code == 200 and failed.error in page.text

    graphsim.control.clear_faults()
    job = sync_to_the_end(administrator_client)

    assert job.pk != failed.pk and job.status == JobRun.Status.SUCCEEDED, job.error
    assert DirectoryUser.objects.count() == len(sim_tenant.users)


def test_slow_graph_answers_only_make_the_sync_slower(
    celery_worker, sim_account, sim_tenant, graphsim, administrator_client
):
    graphsim.control.add_fault(DELTA, status=None, delay_ms=2000, times=1)

    job = sync_to_the_end(administrator_client)

    assert job.status == JobRun.Status.SUCCEEDED, job.error
    assert (job.finished_at - job.started_at).total_seconds() >= 2
    assert DirectoryUser.objects.count() == len(sim_tenant.users)


def test_a_token_endpoint_outage_is_shown_and_the_next_refresh_clears_it(
    celery_worker, sim_account, graphsim, administrator_client
):
    graphsim.control.add_fault(TOKEN, status=503)

    refresh_account_token.delay()
    account = wait_for(
        lambda: IntegrationAccount.objects.exclude(token_error="").first(),
        timeout=30,
        what="the failed refresh to be recorded",
    )
    assert "identity platform" in account.token_error, account.token_error
    page = administrator_client.get(reverse("integrations:account"))
    assert page.status_code == 200
    assert "Last failure" in page.text and "identity platform" in page.text
    failed = sync_to_the_end(administrator_client)
    assert failed.status == JobRun.Status.FAILED and "identity platform" in failed.error

    graphsim.control.clear_faults()
    refresh_account_token.delay()

    account = wait_for(
        lambda: IntegrationAccount.objects.filter(token_error="").first(),
        timeout=30,
        what="the next refresh to succeed",
    )
    assert account.token_refreshed_at is not None and account.token_expires_at is not None
    assert "Last failure" not in administrator_client.get(reverse("integrations:account")).text


def test_an_expired_secret_is_explained_on_the_account_page_and_by_test_connection(
    celery_worker, sim_account, sim_tenant, graphsim, administrator_client
):
    graphsim.control.expire_secrets(sim_tenant.tenant_id, sim_tenant.client_id)

    refresh_account_token.delay()
    wait_for(
        lambda: IntegrationAccount.objects.exclude(token_error="").exists(),
        timeout=30,
        what="the failed refresh",
    )
    page = administrator_client.get(reverse("integrations:account"))
    assert page.status_code == 200 and EXPIRED_SENTENCE in page.text

    administrator_client.post(reverse("integrations:test_connection"))
    test = wait_for(
        lambda: ConnectionTest.objects.exclude(outcome=ConnectionTest.Outcome.PENDING).first(),
        timeout=30,
        what="Test connection",
    )
    assert test.headline == "Error: Failed to request refresh token"
    assert EXPIRED_SENTENCE in test.detail
    assert test.job.status == JobRun.Status.FAILED and EXPIRED_SENTENCE in test.job.error
    result = administrator_client.get(reverse("integrations:test_result", args=[test.pk]))
    assert result.status_code == 200 and EXPIRED_SENTENCE in result.text


def test_a_removed_subscription_is_recreated_for_the_same_users_and_they_are_reconciled(
    start_worker, sim_account, sim_tenant, graphsim, unit, live_server, settings
):
    # The worker recreates it, so the worker too must give Graph the live webhook's address.
    settings.CCBRIDGE_PUBLIC_URL = live_server.url
    start_worker(env={"CCBRIDGE_PUBLIC_URL": live_server.url})
    rule = publishing_rule(unit)
    users = enabled_users(sim_tenant)[:3]
    agents = [mapped_agent(unit, user, rule=rule) for user in users]
    made = sim_system_user(graphsim, sim_tenant)
    system_user = system_user_add(
        actor=None, username=made["userPrincipalName"], password=SYSTEM_PASSWORD
    )
    assert system_user_check(system_user).status == SystemUser.Status.OK
    # A change no notification will carry (made before anything watches the user).
    graphsim.control.set_presence(sim_tenant.tenant_id, users[1]["id"], "Away", "Away")
    assert subscriptions_sync().created == 1
    removed = Subscription.objects.get()

    since = datetime.now(UTC)
    graphsim.control.lifecycle(removed.graph_id, "subscriptionRemoved")

    replaced = wait_for(
        lambda: (
            Subscription.objects.exclude(graph_id=removed.graph_id)
            .filter(status=Subscription.Status.ACTIVE)
            .first()
        ),
        timeout=30,
        what="the subscription to be recreated",
    )
    in_graph = {s["id"]: s for s in graphsim.control.subscriptions(sim_tenant.tenant_id)}
    assert removed.graph_id not in in_graph and replaced.graph_id in in_graph
    assert set(replaced.members.values_list("graph_id", flat=True)) == {u["id"] for u in users}
    wait_for(
        lambda: AgentPresence.objects.filter(agent=agents[1], teams_availability="Away").exists(),
        timeout=30,
        what="the change no notification carried to be reconciled",
    )
    reads = [c for c in graphsim.control.calls(since=since) if "getPresencesByUserId" in c["path"]]
    assert reads and all(c["status"] == 200 for c in reads)
