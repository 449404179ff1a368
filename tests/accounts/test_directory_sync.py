"""The directory sync (accounts.sync, accounts.tasks) against the simulator over
HTTPS, and the directory page that shows its result."""

import json
import math
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import AgentMapping, DirectorySyncState, DirectoryUser
from accounts.sync import PAGE_SIZE, directory_sync_run, page_apply, sync_state
from accounts.tasks import (
    SYNC_KIND,
    SYNC_TIME_LIMIT_SECONDS,
    directory_sync_start,
    directory_sync_when_due,
)
from graph.errors import Unavailable
from integrations.graphlink import graph_config
from integrations.jobs import JobContext, JobFailed
from integrations.models import JobRun
from tests.accounts.conftest import BIG_TENANT_USERS
from tests.accounts.factories import AgentMappingFactory, DirectoryUserFactory
from tests.plugins.celery_worker import wait_for

DELTA_PATH = "/v1.0/users/delta"
# Graph property → DirectoryUser field, to compare what Graph holds with what we saved.
COMPARED = {
    "displayName": ("display_name", ""),
    "mail": ("mail", ""),
    "userPrincipalName": ("user_principal_name", ""),
    "otherMails": ("other_mails", []),
    "proxyAddresses": ("proxy_addresses", []),
    "businessPhones": ("business_phones", []),
    "mobilePhone": ("mobile_phone", ""),
    "faxNumber": ("fax_number", ""),
    "accountEnabled": ("account_enabled", True),
    "jobTitle": ("job_title", ""),
    "department": ("department", ""),
}


def _delta_calls(control, tenant_id: str, since: datetime) -> list[dict]:
    return [c for c in control.calls(since=since, tenant=tenant_id) if c["path"] == DELTA_PATH]


def _saved_as_graph_has_it(graph_users: list[dict]) -> None:
    saved = {u.graph_id: u for u in DirectoryUser.objects.all()}
    for graph_user in graph_users:
        user = saved[graph_user["id"]]
        for prop, (name, empty) in COMPARED.items():
            expected = graph_user.get(prop)
            assert getattr(user, name) == (empty if expected is None else expected), (prop, user)


# --- against the simulator -------------------------------------------------------


def test_the_first_sync_saves_every_user_in_as_few_pages_as_graph_allows(
    big_account, big_tenant, graphsim
):
    since = datetime.now(UTC)

    state = directory_sync_run()

    calls = _delta_calls(graphsim.control, big_tenant.tenant_id, since)
    assert len(calls) == math.ceil(BIG_TENANT_USERS / PAGE_SIZE) == 2
    assert [c["status"] for c in calls] == [200, 200]
    assert DirectoryUser.objects.count() == BIG_TENANT_USERS
    _saved_as_graph_has_it(big_tenant.users)
    assert not DirectoryUser.objects.exclude(removed_reason="").exists()
    assert state.delta_link and not state.resume_link
    assert state.last_full_sync_at is not None
    assert state.last_finished_at >= state.last_full_sync_at


def test_the_next_run_fetches_only_the_changes_from_the_delta_link(
    sim_account, sim_tenant, graphsim
):
    control, tenant = graphsim.control, sim_tenant.tenant_id
    directory_sync_run()
    first_full_sync = sync_state().last_full_sync_at
    edited, disabled, soft_deleted, deleted, untouched = (u["id"] for u in sim_tenant.users[:5])
    kept_soft = AgentMappingFactory(directory_user=DirectoryUser.objects.get(graph_id=soft_deleted))
    untouched_before = DirectoryUser.objects.get(graph_id=untouched)
    mail_before = DirectoryUser.objects.get(graph_id=edited).mail

    newcomer = control.create_user(
        tenant,
        displayName="Nadia Newcomer",
        mailNickname="nadia.newcomer",
        jobTitle="Agent",
        department="Support",
        businessPhones=["+1 425 555 0100"],
        password="Welcome-2025!",
    )
    control.update_user(tenant, edited, displayName="Renamed Person", department="Escalations")
    control.update_user(tenant, disabled, accountEnabled=False)
    control.delete_user(tenant, soft_deleted)
    control.delete_user(tenant, deleted, permanent=True)
    job = JobRun.objects.create(kind=SYNC_KIND)
    since = datetime.now(UTC)

    directory_sync_run(ctx=JobContext(job))

    calls = _delta_calls(control, tenant, since)
    assert len(calls) == 1
    assert "deltatoken" in calls[0]["query"]
    job.refresh_from_db()
    assert job.counts == {"created": 1, "updated": 2, "removed": 2, "pages": 1, "requests": 1}
    assert job.message == "Incremental sync done in 1 pages"

    assert DirectoryUser.objects.count() == len(sim_tenant.users) + 1
    added = DirectoryUser.objects.get(graph_id=newcomer["id"])
    assert (added.display_name, added.job_title, added.department) == (
        "Nadia Newcomer",
        "Agent",
        "Support",
    )
    assert added.user_principal_name == f"nadia.newcomer@{sim_tenant.domain}"
    assert added.business_phones == ["+1 425 555 0100"]
    renamed = DirectoryUser.objects.get(graph_id=edited)
    assert (renamed.display_name, renamed.department) == ("Renamed Person", "Escalations")
    assert renamed.mail == mail_before
    assert DirectoryUser.objects.get(graph_id=disabled).account_enabled is False

    soft = DirectoryUser.objects.get(graph_id=soft_deleted)
    gone = DirectoryUser.objects.get(graph_id=deleted)
    assert (soft.removed_reason, gone.removed_reason) == ("changed", "deleted")
    assert soft.removed_at is not None and gone.removed_at is not None
    assert soft.display_name and gone.display_name  # still recognisable
    assert AgentMapping.objects.get(pk=kept_soft.pk).directory_user == soft

    untouched_after = DirectoryUser.objects.get(graph_id=untouched)
    assert untouched_after.updated_at == untouched_before.updated_at
    assert untouched_after.last_seen_at == untouched_before.last_seen_at
    assert sync_state().last_full_sync_at == first_full_sync


class _GraphFailsAfterTheFirstPage(JobContext):
    """Once the first page is saved, Graph answers 503 to every retry of the next one,
    as when Graph goes away (or the worker dies) in the middle of a sync."""

    def __init__(self, job: JobRun, control, failures: int):
        super().__init__(job)
        self.control = control
        self.failures = failures

    def advance(self, done: int = 1) -> None:
        super().advance(done)
        if self.job.progress_done == done:
            self.control.add_fault(
                match=r"^/v1\.0/users/delta$", status=503, retry_after=0, times=self.failures
            )


def test_a_sync_interrupted_after_a_page_resumes_there_without_duplicates(
    big_account, big_tenant, graphsim
):
    control = graphsim.control
    attempts = graph_config().max_retries + 1
    ctx = _GraphFailsAfterTheFirstPage(
        JobRun.objects.create(kind=SYNC_KIND), control, failures=attempts
    )
    since = datetime.now(UTC)

    with pytest.raises(Unavailable):
        directory_sync_run(ctx=ctx)

    failed = [
        c for c in control.calls(since=since) if c["path"] == DELTA_PATH and c["status"] == 503
    ]
    assert len(failed) == attempts  # the client retried the page, then gave up
    interrupted = sync_state()
    assert interrupted.resume_link and not interrupted.delta_link
    assert DirectoryUser.objects.count() == PAGE_SIZE
    assert interrupted.last_finished_at is None

    since = datetime.now(UTC)
    state = directory_sync_run()

    calls = _delta_calls(control, big_tenant.tenant_id, since)
    assert len(calls) == 1  # the second page only: the first is not fetched again
    assert "skiptoken" in calls[0]["query"]
    assert DirectoryUser.objects.count() == BIG_TENANT_USERS
    assert DirectoryUser.objects.values("graph_id").distinct().count() == BIG_TENANT_USERS
    _saved_as_graph_has_it(big_tenant.users)
    assert state.delta_link and not state.resume_link
    assert state.last_full_sync_at is not None


def test_syncing_without_an_integration_account_fails_with_a_clear_message(db):
    with pytest.raises(JobFailed, match="Set up the Teams integration account"):
        directory_sync_run()


def test_syncing_with_an_incomplete_account_fails_with_a_clear_message(make_account):
    make_account(tenant="  ")
    with pytest.raises(JobFailed, match="Set up the Teams integration account"):
        directory_sync_run()
    assert not DirectoryUser.objects.exists()


def test_the_sync_job_runs_in_the_worker_and_the_directory_page_lists_the_users(
    celery_worker, sim_account, sim_tenant, administrator_client
):
    response = administrator_client.post(
        reverse("accounts:directory_sync"), headers={"HX-Request": "true"}
    )
    assert 'hx-trigger="every 1s"' in response.content.decode()

    job = wait_for(
        lambda: JobRun.objects.filter(kind=SYNC_KIND, finished_at__isnull=False).first(),
        what="the directory sync job",
        timeout=30,
    )

    assert job.status == JobRun.Status.SUCCEEDED, job.error or celery_worker.log()
    users = len(sim_tenant.users)
    assert job.counts == {"created": users, "updated": 0, "removed": 0, "pages": 1, "requests": 1}
    assert job.progress_done == users
    assert sync_state().running_job is None
    page = administrator_client.get(reverse("accounts:directory")).content.decode()
    assert f"{users} users synced" in page
    for user in sim_tenant.users:
        assert user["displayName"] in page


def test_the_sync_job_fails_visibly_without_an_account(celery_worker, administrator_client):
    administrator_client.post(reverse("accounts:directory_sync"))

    job = wait_for(
        lambda: JobRun.objects.filter(kind=SYNC_KIND, finished_at__isnull=False).first(),
        what="the directory sync job",
        timeout=30,
    )

    assert job.status == JobRun.Status.FAILED
    assert job.error == "Set up the Teams integration account before syncing the directory."
    assert sync_state().running_job is None


# --- starting the job -------------------------------------------------------------


def test_starting_a_sync_while_one_is_queued_returns_that_job(administrator):
    first = directory_sync_start(user=administrator)
    again = directory_sync_start(user=administrator)

    assert again.pk == first.pk
    assert JobRun.objects.filter(kind=SYNC_KIND).count() == 1
    assert sync_state().running_job_id == first.pk


def test_a_finished_sync_does_not_block_the_next_one(administrator):
    first = directory_sync_start(user=administrator)
    JobRun.objects.filter(pk=first.pk).update(status=JobRun.Status.SUCCEEDED)

    second = directory_sync_start(user=administrator)

    assert second.pk != first.pk
    assert second.started_by == administrator
    assert sync_state().running_job_id == second.pk


@pytest.mark.parametrize("status", [JobRun.Status.QUEUED, JobRun.Status.RUNNING])
def test_a_sync_abandoned_by_a_dead_worker_does_not_block_the_next_one(administrator, status):
    long_ago = timezone.now() - timedelta(seconds=SYNC_TIME_LIMIT_SECONDS + 60)
    dead = JobRun.objects.create(kind=SYNC_KIND, status=status)
    JobRun.objects.filter(pk=dead.pk).update(
        created_at=long_ago, started_at=long_ago if status == JobRun.Status.RUNNING else None
    )
    DirectorySyncState.objects.create(running_job=dead)

    job = directory_sync_start(user=administrator)

    assert job.pk != dead.pk
    assert sync_state().running_job_id == job.pk
    dead.refresh_from_db()
    assert dead.status == JobRun.Status.FAILED
    assert dead.error.startswith("The sync stopped without finishing")


def test_a_long_sync_still_within_its_time_limit_is_not_started_again(administrator):
    running = JobRun.objects.create(
        kind=SYNC_KIND, status=JobRun.Status.RUNNING, started_at=timezone.now()
    )
    JobRun.objects.filter(pk=running.pk).update(created_at=timezone.now() - timedelta(hours=2))
    DirectorySyncState.objects.create(running_job=running)

    assert directory_sync_start(user=administrator).pk == running.pk
    assert JobRun.objects.count() == 1


def test_pressing_sync_twice_shows_the_same_job(administrator_client):
    url = reverse("accounts:directory_sync")
    first = administrator_client.post(url, headers={"HX-Request": "true"}).content.decode()
    second = administrator_client.post(url, headers={"HX-Request": "true"}).content.decode()

    job = JobRun.objects.get(kind=SYNC_KIND)
    assert f'id="job-{job.pk}"' in first
    assert f'id="job-{job.pk}"' in second


@pytest.mark.parametrize(
    ("interval", "started_ago", "starts"),
    [
        (60, None, True),  # never ran
        (60, timedelta(minutes=61), True),
        (60, timedelta(minutes=59), False),
        (0, timedelta(days=30), False),  # schedule off
    ],
)
def test_the_scheduler_starts_a_sync_only_when_it_is_due(
    make_account, interval, started_ago, starts
):
    make_account()
    DirectorySyncState.objects.create(
        interval_minutes=interval,
        last_started_at=timezone.now() - started_ago if started_ago else None,
    )

    directory_sync_when_due()

    assert JobRun.objects.filter(kind=SYNC_KIND).exists() is starts


def test_the_scheduler_does_nothing_without_an_account(db):
    directory_sync_when_due()
    assert not JobRun.objects.exists()


# --- page_apply: one delta page ---------------------------------------------------


def test_a_partial_delta_item_changes_only_the_properties_it_carries(db):
    user = DirectoryUserFactory(
        display_name="Old Name",
        job_title="Agent",
        department="Support",
        mobile_phone="+1 555 0101",
        business_phones=["+1 555 0102"],
        other_mails=["old@mail.example"],
    )
    seen = timezone.now()

    outcome = page_apply(
        [{"id": user.graph_id, "displayName": "New Name", "mobilePhone": None}], seen_at=seen
    )

    user.refresh_from_db()
    assert (outcome.created, outcome.updated) == (0, 1)
    assert user.display_name == "New Name"
    assert user.mobile_phone == ""  # Graph sent null
    assert user.job_title == "Agent" and user.department == "Support"
    assert user.business_phones == ["+1 555 0102"]
    assert user.other_mails == ["old@mail.example"]
    assert user.mail.startswith("person")
    assert user.last_seen_at == seen


def test_a_page_mixing_full_and_partial_items_keeps_each_users_other_columns(db):
    partial = DirectoryUserFactory(job_title="Lead")
    full = {"id": "new-user-id", **{prop: None for prop in COMPARED}, "displayName": "Full One"}

    page_apply([full, {"id": partial.graph_id, "accountEnabled": False}], seen_at=timezone.now())

    partial.refresh_from_db()
    assert partial.account_enabled is False and partial.job_title == "Lead"
    created = DirectoryUser.objects.get(graph_id="new-user-id")
    assert created.display_name == "Full One"
    assert (created.mail, created.other_mails, created.account_enabled) == ("", [], True)


def test_removed_items_are_marked_with_their_reason_and_never_created(db):
    soft, hard, odd = DirectoryUserFactory.create_batch(3)
    seen = timezone.now()

    outcome = page_apply(
        [
            {"id": soft.graph_id, "@removed": {"reason": "changed"}},
            {"id": hard.graph_id, "@removed": {"reason": "deleted"}},
            {"id": odd.graph_id, "@removed": {"reason": "something-new"}},
            {"id": "never-seen", "@removed": {"reason": "deleted"}},
        ],
        seen_at=seen,
    )

    assert outcome.removed == 3
    reasons = dict(DirectoryUser.objects.values_list("graph_id", "removed_reason"))
    assert reasons == {soft.graph_id: "changed", hard.graph_id: "deleted", odd.graph_id: "changed"}
    assert set(DirectoryUser.objects.values_list("removed_at", flat=True)) == {seen}


def test_a_user_back_in_the_directory_is_no_longer_marked_removed(db):
    user = DirectoryUserFactory(removed_reason="changed", removed_at=timezone.now())

    page_apply([{"id": user.graph_id, "displayName": "Restored"}], seen_at=timezone.now())

    user.refresh_from_db()
    assert not user.is_removed and user.removed_at is None


def test_a_page_is_saved_in_the_same_number_of_queries_whatever_its_size(db):
    def queries_for(count: int, prefix: str) -> int:
        items = [
            {"id": f"{prefix}-{i}", "displayName": f"User {i}", "mail": f"{prefix}{i}@x.example"}
            for i in range(count)
        ]
        items += [{"id": f"{prefix}-gone-{i}", "@removed": {"reason": "deleted"}} for i in range(3)]
        with CaptureQueriesContext(connection) as queries:
            page_apply(items, seen_at=timezone.now())
        return len(queries)

    assert queries_for(5, "small") == queries_for(500, "large")


# --- the directory page -----------------------------------------------------------

NAMES = ("Erin Enabled", "Dora Disabled", "Remy Removed", "Mabel Mapped")


@pytest.fixture
def directory_users(db):
    users = {
        "Erin Enabled": DirectoryUserFactory(display_name="Erin Enabled", department="Sales"),
        "Dora Disabled": DirectoryUserFactory(display_name="Dora Disabled", account_enabled=False),
        "Remy Removed": DirectoryUserFactory(
            display_name="Remy Removed", removed_reason="deleted", removed_at=timezone.now()
        ),
        "Mabel Mapped": DirectoryUserFactory(
            display_name="Mabel Mapped", mail="mabel@vanity.example"
        ),
    }
    AgentMappingFactory(directory_user=users["Mabel Mapped"], agent__name="Agent Mabel")
    return users


def _shown(client: Client, **params) -> set[str]:
    page = client.get(reverse("accounts:directory"), params).content.decode()
    return {name for name in NAMES if name in page}


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("", set(NAMES)),
        ("enabled", {"Erin Enabled", "Mabel Mapped"}),
        ("disabled", {"Dora Disabled"}),
        ("removed", {"Remy Removed"}),
        ("mapped", {"Mabel Mapped"}),
        ("unmapped", {"Erin Enabled", "Dora Disabled"}),
    ],
)
def test_the_directory_page_filters_by_status(supervisor_client, directory_users, status, expected):
    assert _shown(supervisor_client, status=status) == expected


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("dora", {"Dora Disabled"}),  # display name, any case
        ("VANITY.example", {"Mabel Mapped"}),  # mail
        ("contoso.onmicrosoft", set(NAMES)),  # UPN
        ("sales", {"Erin Enabled"}),  # department
        ("nobody-like-this", set()),
    ],
)
def test_the_directory_page_searches_names_addresses_and_departments(
    supervisor_client, directory_users, query, expected
):
    assert _shown(supervisor_client, q=query) == expected


def test_the_directory_page_shows_state_and_mapped_agent(supervisor_client, directory_users):
    page = supervisor_client.get(reverse("accounts:directory")).content.decode()
    assert "Agent Mabel" in page
    assert '<span class="status status-failed">Removed</span>' in page
    assert '<span class="status">Disabled</span>' in page


def test_an_htmx_filter_request_gets_only_the_table(supervisor_client, directory_users):
    response = supervisor_client.get(
        reverse("accounts:directory"),
        {"status": "disabled"},
        headers={"HX-Request": "true", "HX-Target": "directory-table"},
    )

    body = response.content.decode().strip()
    assert body.startswith('<div id="directory-table">')
    assert "<html" not in body and "Directory sync" not in body
    assert "Dora Disabled" in body and "Erin Enabled" not in body


def test_an_empty_filter_says_so(supervisor_client, directory_users):
    page = supervisor_client.get(reverse("accounts:directory"), {"q": "zzz"}).content.decode()
    assert "No users match this filter." in page


def test_the_directory_page_pages_through_many_users(supervisor_client):
    DirectoryUserFactory.create_batch(55)
    first = supervisor_client.get(reverse("accounts:directory")).content.decode()
    second = supervisor_client.get(reverse("accounts:directory"), {"page": 2}).content.decode()
    assert "Page 1 of 2 (55)" in first and "Page 2 of 2 (55)" in second


def _phone_positions(page: str, numbers: list[str]) -> list[int]:
    return [page.index(number) for number in numbers]


def test_phones_are_shown_in_the_accounts_phone_type_order(supervisor_client, make_account):
    make_account(phone_types=["mobile", "fax", "business"])
    DirectoryUserFactory(
        business_phones=["+1 555 0001"], mobile_phone="+1 555 0002", fax_number="+1 555 0003"
    )

    page = supervisor_client.get(reverse("accounts:directory")).content.decode()

    mobile, fax, business = _phone_positions(page, ["+1 555 0002", "+1 555 0003", "+1 555 0001"])
    assert mobile < fax < business
    assert page.index("Mobile</span> +1 555 0002") < page.index("Business</span> +1 555 0001")


def test_phones_follow_the_default_order_without_an_account(supervisor_client):
    DirectoryUserFactory(
        business_phones=["+1 555 0001"], mobile_phone="+1 555 0002", fax_number="+1 555 0003"
    )

    page = supervisor_client.get(reverse("accounts:directory")).content.decode()

    business, mobile, fax = _phone_positions(page, ["+1 555 0001", "+1 555 0002", "+1 555 0003"])
    assert business < mobile < fax
    assert "Set up the Teams integration account first." in page
    assert "Sync now" not in page


def test_the_sync_schedule_is_saved_and_audited(administrator_client):
    from integrations.models import AuditEntry

    response = administrator_client.post(
        reverse("accounts:directory_interval"), {"interval_minutes": 15}
    )

    assert response.status_code == 302
    assert sync_state().interval_minutes == 15
    entry = AuditEntry.objects.get(action="directory.interval")
    assert entry.changes == {"interval_minutes": [60, 15]}


@pytest.mark.parametrize("minutes", [3, 7 * 24 * 60 + 1])
def test_a_sync_schedule_out_of_range_is_refused(administrator_client, minutes):
    response = administrator_client.post(
        reverse("accounts:directory_interval"), {"interval_minutes": minutes}, follow=True
    )

    assert "Choose between 5 minutes and 7 days, or 0 for never." in response.content.decode()
    assert sync_state().interval_minutes == 60


def _page_text(items: list[dict]) -> str:
    return json.dumps({"@odata.context": "users(displayName)/delta", "value": items})


def test_a_whole_page_is_read_from_graphs_own_text_as_from_its_items(db):
    users = [{"id": f"whole-{i}", **{prop: None for prop in COMPARED}} for i in range(3)]
    users[0].update(displayName="Zoë Ünal", businessPhones=["+49 30 1"], accountEnabled=False)
    users[1].update(otherMails=["a@x.example"], mail="b@x.example")

    outcome = page_apply(users, seen_at=timezone.now(), page_text=_page_text(users))

    assert (outcome.created, outcome.updated) == (3, 0)
    first = DirectoryUser.objects.get(graph_id="whole-0")
    assert (first.display_name, first.business_phones, first.account_enabled) == (
        "Zoë Ünal",
        ["+49 30 1"],
        False,
    )
    second = DirectoryUser.objects.get(graph_id="whole-1")
    assert (second.mail, second.other_mails) == ("b@x.example", ["a@x.example"])
    assert second.job_title == ""


def test_a_page_repeating_a_user_keeps_the_last_item_even_with_the_pages_text(db):
    # One statement cannot insert the same user twice; such a page goes by its items.
    items = [
        {"id": "twice", "displayName": "First"},
        {"id": "twice", "displayName": "Second"},
    ]

    outcome = page_apply(items, seen_at=timezone.now(), page_text=_page_text(items))

    assert outcome.created == 1
    assert DirectoryUser.objects.get(graph_id="twice").display_name == "Second"
