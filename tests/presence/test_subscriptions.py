"""Presence subscriptions: the planner, and the sync against the simulator.

Graph facts pinned here (docs/graph.md, "Change notifications"): presence
subscriptions need a delegated token (the app token gets 403), watch at most
650 users, last at most 60 minutes, exist once per user and app (409), and
are created only after the validation handshake.
"""

from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from graph.errors import PermissionDenied
from integrations.graphlink import app_graph_client
from integrations.models import JobRun
from integrations.services import account_get
from presence.models import AgentRuleAssignment
from presence.subscriptions import tasks as subscription_tasks
from presence.subscriptions.hints import FORBIDDEN_HINT
from presence.subscriptions.plan import changed_slots, not_covered, plan, subscriptions_needed
from presence.subscriptions.services import (
    client_state_matches,
    presence_resource,
    subscription_for_graph_id,
    subscriptions_sync,
)
from presence.subscriptions.system_users import (
    system_user_add,
    system_user_check,
    system_user_graph_client,
)
from presence.sync_models import AgentPresence, Subscription, SyncRecord, SystemUser
from presence.to_acd import tasks as to_acd_tasks
from tests.plugins.celery_worker import wait_for
from tests.plugins.hypothesis_profiles import examples
from tests.presence.support_sync import (
    SYSTEM_PASSWORD,
    big_tenant_fixture,  # noqa: F401
    handshake_fixture,  # noqa: F401
    map_agents,
    sim_account,
    sim_system_user,
    small_tenant_fixture,  # noqa: F401
)
from tests.presence.support_to_teams import publishing_rule, sim_calls
from tests.support.task_queue import own_queue

# --- the planner (pure) ------------------------------------------------------------------


def ids(n: int, prefix: str = "u") -> set[str]:
    return {f"{prefix}{i:05d}" for i in range(n)}


def test_800_users_from_nothing_become_650_plus_150():
    planned = plan({"a": set(), "b": set(), "c": set()}, ids(800))
    assert [len(planned[k]) for k in "abc"] == [650, 150, 0]


def test_users_beyond_the_pool_are_not_covered():
    wanted = ids(1400)
    planned = plan({"a": set(), "b": set()}, wanted)
    assert [len(m) for m in planned.values()] == [650, 650]
    assert len(not_covered(planned, wanted)) == 100


def test_a_new_user_joins_the_subscription_with_room_and_nothing_else_moves():
    first = plan({"a": set(), "b": set()}, ids(800))
    wanted = ids(800) | {"new"}
    second = plan(first, wanted)
    assert changed_slots(first, second) == {"b"}
    assert second["a"] == first["a"]


def test_a_replaced_user_takes_the_freed_place():
    first = plan({"a": set(), "b": set()}, ids(800))
    gone = sorted(first["a"])[0]
    second = plan(first, (ids(800) - {gone}) | {"new"})
    assert changed_slots(first, second) == {"a"}
    assert "new" in second["a"]


slot_keys = st.lists(st.sampled_from("abcdefgh"), min_size=1, max_size=8, unique=True)
user_sets = st.sets(st.integers(0, 60).map(lambda i: f"u{i:03d}"), max_size=61)


@st.composite
def situations(draw):
    keys = draw(slot_keys)
    capacity = draw(st.integers(1, 12))
    current = {k: draw(user_sets) for k in keys}
    return current, draw(user_sets), capacity


@given(situations())
@hsettings(max_examples=examples(300), deadline=None)
def test_no_slot_exceeds_capacity_and_every_wanted_user_is_placed_once(situation):
    current, wanted, capacity = situation
    planned = plan(current, wanted, capacity)
    assert set(planned) == set(current)
    assert all(len(members) <= capacity for members in planned.values())
    placed = [u for members in planned.values() for u in members]
    assert len(placed) == len(set(placed)), "a user is in two subscriptions"
    assert set(placed) <= wanted
    assert len(placed) == min(len(wanted), capacity * len(current))
    assert plan(planned, wanted, capacity) == planned, "planning again changes nothing"


@given(st.integers(0, 120), st.integers(1, 10), st.integers(1, 12))
@hsettings(max_examples=examples(200), deadline=None)
def test_from_nothing_the_count_is_ceil_n_over_capacity(n, capacity, slots):
    wanted = ids(n)
    planned = plan({k: set() for k in range(slots)}, wanted, capacity)
    in_use = [k for k, members in planned.items() if members]
    if slots * capacity >= n:
        assert len(in_use) == subscriptions_needed(n, capacity)
        assert in_use == list(range(len(in_use))), "first-fit fills the first slots"


@st.composite
def small_changes(draw):
    capacity = draw(st.integers(2, 10))
    slots = draw(st.integers(1, 8))
    base = ids(draw(st.integers(0, slots * capacity)))
    removed = set(draw(st.lists(st.sampled_from(sorted(base)), max_size=3))) if base else set()
    added = {f"n{i}" for i in range(draw(st.integers(0, 3)))}
    return capacity, slots, base, removed, added


@given(small_changes())
@hsettings(max_examples=examples(300), deadline=None)
def test_a_small_change_touches_few_subscriptions(change):
    capacity, slots, base, removed, added = change
    before = plan({k: set() for k in range(slots)}, base, capacity)
    after = plan(before, (base - removed) | added, capacity)
    touched = changed_slots(before, after)
    holding_removed = {k for k, members in before.items() if members & removed}
    assert holding_removed <= touched
    # Additions go where something changes anyway, else into one more slot at a time.
    assert len(touched) <= len(holding_removed) + len(added)
    if len(removed) + len(added) == 1:
        fits = len((base - removed) | added) <= capacity * slots
        assert len(touched) == (1 if fits else 0)


def test_the_resource_names_one_user_or_filters_by_id():
    assert presence_resource(["b"]) == "/communications/presences/b"
    assert presence_resource(["b", "a"]) == "/communications/presences?$filter=id in ('a','b')"


# --- against the simulator ---------------------------------------------------------------


def system_user_ok(graphsim, tenant, **kwargs) -> SystemUser:
    made = sim_system_user(graphsim, tenant, **kwargs)
    user = system_user_add(actor=None, username=made["userPrincipalName"], password=SYSTEM_PASSWORD)
    assert system_user_check(user).status == SystemUser.Status.OK, user.status_detail
    return user


def sim_subscriptions(graphsim, tenant) -> list[dict]:
    return graphsim.control.subscriptions(tenant.tenant_id)


def calls(graphsim, tenant, method: str, path_start: str) -> list[dict]:
    return [
        c
        for c in graphsim.control.calls(tenant=tenant.tenant_id)
        if c["method"] == method and c["path"].removeprefix("/v1.0").startswith(path_start)
    ]


@pytest.fixture
def world(graphsim, small_tenant, graph_settings, handshake, db):
    """Account, 20 mapped agents and one signed-in system user on a 30-user tenant."""
    sim_account(small_tenant)
    agents = map_agents(small_tenant.users[:20])
    user = system_user_ok(graphsim, small_tenant)
    return {"tenant": small_tenant, "agents": agents, "user": user, "handshake": handshake}


def test_800_mapped_agents_get_exactly_two_subscriptions(
    graphsim, big_tenant, graph_settings, handshake, db
):
    sim_account(big_tenant)
    map_agents(big_tenant.users[:800])
    first, second = (system_user_ok(graphsim, big_tenant) for _ in range(2))

    result = subscriptions_sync()

    assert (result.created, result.failed, result.covered) == (2, 0, 800), result.summary()
    listed = sim_subscriptions(graphsim, big_tenant)
    assert sorted(len(s["watched"]) for s in listed) == [150, 650]
    for sub in listed:
        row = Subscription.objects.get(graph_id=sub["id"])
        members = set(row.members.values_list("graph_id", flat=True))
        assert set(sub["watched"]) == members
        quoted = ",".join(f"'{g}'" for g in sorted(members))
        assert sub["resource"] == f"/communications/presences?$filter=id in ({quoted})"
        assert sub["changeType"] == "updated"
        assert sub["notificationUrl"] == f"{handshake.url}/graph/notifications"
        assert sub["lifecycleNotificationUrl"] == f"{handshake.url}/graph/lifecycle"
        assert sub["includeResourceData"] is True
        assert sub["encryptionCertificateId"] == row.certificate.certificate_id
        assert client_state_matches(row, sub["clientState"])
        assert len(sub["clientState"]) <= 128
        assert row.status == Subscription.Status.ACTIVE
        assert timedelta(minutes=50) < row.expires_at - timezone.now() <= timedelta(minutes=60)
    assert {r.system_user_id for r in Subscription.objects.all()} == {first.pk, second.pk}
    # Both the notification and the lifecycle URL were validated.
    assert handshake.validations.count("/graph/notifications") == 2
    assert handshake.validations.count("/graph/lifecycle") == 2

    # Nothing to do the next minute.
    again = subscriptions_sync()
    assert not again.changed and again.failed == 0


def test_the_health_page_shows_members_of_650_and_expiry(
    graphsim, big_tenant, graph_settings, handshake, administrator_client
):
    sim_account(big_tenant)
    map_agents(big_tenant.users[:800])
    for _ in range(2):
        system_user_ok(graphsim, big_tenant)
    subscriptions_sync()

    page = administrator_client.get(reverse("sync:subscriptions")).content.decode()
    assert "650/650" in page and "150/650" in page
    assert "expires in 5" in page  # 54 or 55 min
    assert 'data-total="mapped">800<' in page and 'data-total="not_covered">0<' in page
    assert 'hx-trigger="every 10s"' in page
    partial = administrator_client.get(
        reverse("sync:subscriptions"), headers={"HX-Request": "true"}
    )
    assert "<html" not in partial.content.decode() and "650/650" in partial.content.decode()


def test_the_app_token_cannot_create_a_presence_subscription(graphsim, world, handshake):
    """docs/graph.md: presence subscriptions are delegated only; the app token gets 403."""
    client, _ = app_graph_client(account_get())
    with pytest.raises(PermissionDenied) as denied:
        client.post(
            "/subscriptions",
            {
                "changeType": "updated",
                "notificationUrl": f"{handshake.url}/graph/notifications",
                "resource": presence_resource([world["tenant"].users[0]["id"]]),
                "expirationDateTime": (timezone.now() + timedelta(minutes=30)).isoformat(),
            },
        )
    assert denied.value.status == 403


def test_renewal_before_expiry_patches_and_moves_the_expiry(graphsim, world):
    subscriptions_sync()
    row = Subscription.objects.get()
    old_expiry = row.expires_at
    graphsim.control.advance_clock(45 * 60)
    later = timezone.now() + timedelta(minutes=45)

    result = subscriptions_sync(now=later)

    assert (result.renewed, result.recreated, result.created) == (1, 0, 0)
    assert calls(graphsim, world["tenant"], "PATCH", f"/subscriptions/{row.graph_id}")
    row.refresh_from_db()
    assert row.expires_at - old_expiry >= timedelta(minutes=44)
    [listed] = sim_subscriptions(graphsim, world["tenant"])
    assert listed["id"] == row.graph_id
    assert listed["expirationDateTime"].startswith(row.expires_at.strftime("%Y-%m-%dT%H:%M"))


def test_a_subscription_far_from_expiry_is_left_alone(graphsim, world):
    subscriptions_sync()
    result = subscriptions_sync(now=timezone.now() + timedelta(minutes=30))
    assert not result.changed
    assert not calls(graphsim, world["tenant"], "PATCH", "/subscriptions/")


def test_a_404_on_renewal_recreates_the_subscription(graphsim, world):
    subscriptions_sync()
    row = Subscription.objects.get()
    gone = row.graph_id
    app_graph_client(account_get())[0].delete(f"/subscriptions/{gone}")
    Subscription.objects.filter(pk=row.pk).update(expires_at=timezone.now() + timedelta(minutes=5))

    result = subscriptions_sync()

    assert result.recreated == 1 and result.failed == 0
    row.refresh_from_db()
    assert row.graph_id and row.graph_id != gone and row.status == Subscription.Status.ACTIVE
    assert [s["id"] for s in sim_subscriptions(graphsim, world["tenant"])] == [row.graph_id]


def test_a_stale_duplicate_409_is_deleted_and_ours_created(graphsim, world, handshake):
    """docs/graph.md: one presence subscription per user and app; a second is 409."""
    client, _tokens = system_user_graph_client(world["user"])
    stale = client.post(
        "/subscriptions",
        {
            "changeType": "updated",
            "notificationUrl": f"{handshake.url}/graph/notifications",
            "resource": presence_resource([world["tenant"].users[25]["id"]]),
            "expirationDateTime": (timezone.now() + timedelta(minutes=30)).isoformat(),
            "clientState": "left over",
        },
    )

    result = subscriptions_sync()

    assert result.created == 1 and result.failed == 0, result.summary()
    conflicts = [c for c in calls(graphsim, world["tenant"], "POST", "/subscriptions")]
    assert [c["status"] for c in conflicts] == [201, 409, 201]  # the stale one, then ours
    assert calls(graphsim, world["tenant"], "DELETE", f"/subscriptions/{stale['id']}")
    row = Subscription.objects.get()
    assert [s["id"] for s in sim_subscriptions(graphsim, world["tenant"])] == [row.graph_id]


def test_a_removed_subscription_is_recreated_and_its_agents_reconciled(
    graphsim, world, monkeypatch, django_capture_on_commit_callbacks
):
    subscriptions_sync()
    row = Subscription.objects.get()
    removed = row.graph_id

    graphsim.control.lifecycle(removed, "subscriptionRemoved")
    item = wait_for(
        lambda: next(iter(world["handshake"].lifecycle_items()), None), what="lifecycle POST"
    )
    assert (item["subscriptionId"], item["lifecycleEvent"]) == (removed, "subscriptionRemoved")
    assert client_state_matches(row, item["clientState"])
    with own_queue(monkeypatch, to_acd_tasks.reconcile) as queue:
        with django_capture_on_commit_callbacks(execute=True):
            subscription_tasks.subscription_lifecycle(
                item["subscriptionId"], item["lifecycleEvent"]
            )
        reconciled = queue.kwargs_of(to_acd_tasks.reconcile.name)

    row.refresh_from_db()
    assert row.graph_id != removed and row.status == Subscription.Status.ACTIVE
    listed = sim_subscriptions(graphsim, world["tenant"])
    assert [s["id"] for s in listed] == [row.graph_id]
    assert len(listed[0]["watched"]) == 20
    [call] = reconciled
    assert sorted(call["agent_ids"]) == sorted(a.pk for a in world["agents"])
    assert call["reason"] == "subscriptionRemoved"


def test_reauthorization_required_renews_now(graphsim, world, monkeypatch):
    subscriptions_sync()
    row = Subscription.objects.get()
    subscription_tasks.subscription_lifecycle(row.graph_id, "reauthorizationRequired")
    assert calls(graphsim, world["tenant"], "PATCH", f"/subscriptions/{row.graph_id}")
    row.refresh_from_db()
    assert row.status == Subscription.Status.ACTIVE


def test_missed_notifications_reconcile_without_touching_graph(
    graphsim, world, monkeypatch, django_capture_on_commit_callbacks
):
    subscriptions_sync()
    row = Subscription.objects.get()
    with own_queue(monkeypatch, to_acd_tasks.reconcile) as queue:
        with django_capture_on_commit_callbacks(execute=True):
            subscription_tasks.subscription_lifecycle(row.graph_id, "missed")
        reconciled = queue.kwargs_of(to_acd_tasks.reconcile.name)
    assert reconciled and reconciled[0]["reason"] == "missed"
    assert Subscription.objects.get().graph_id == row.graph_id
    assert not calls(graphsim, world["tenant"], "PATCH", "/subscriptions/")


def test_changed_members_recreate_only_that_subscription(graphsim, world):
    subscriptions_sync()
    row = Subscription.objects.get()
    old = row.graph_id
    map_agents([world["tenant"].users[20]])

    result = subscriptions_sync()

    assert result.recreated == 1
    row.refresh_from_db()
    assert row.graph_id != old and row.members.count() == 21
    [listed] = sim_subscriptions(graphsim, world["tenant"])
    assert len(listed["watched"]) == 21 and listed["id"] == row.graph_id
    assert calls(graphsim, world["tenant"], "DELETE", f"/subscriptions/{old}")


def test_a_failure_is_recorded_with_its_hint_and_retried(graphsim, world, administrator_client):
    graphsim.control.add_fault("/subscriptions$", status=403, method="POST", times=1)

    failed = subscriptions_sync()

    assert failed.failed == 1 and failed.new_failures == 1
    row = Subscription.objects.get()
    assert row.status == Subscription.Status.FAILED and FORBIDDEN_HINT in row.last_error
    page = administrator_client.get(reverse("sync:subscriptions")).content.decode()
    assert "delegated Microsoft Graph permission Presence.Read.All" in page
    assert 'data-hint="forbidden"' in page and "happening now" in page

    retried = subscriptions_sync()
    assert retried.created == 1 and retried.failed == 0
    row.refresh_from_db()
    assert row.status == Subscription.Status.ACTIVE and row.last_error == ""


@pytest.mark.worker
def test_a_subscription_back_from_failure_reconciles_its_users(
    unit, graphsim, world, celery_worker
):
    """Nobody listened while the subscription failed: its users are read once it is back."""
    tenant = world["tenant"]
    enabled = next(u["id"] for u in tenant.users[:20] if u["accountEnabled"])
    agent = next(a for a in world["agents"] if a.mapping.directory_user.graph_id == enabled)
    AgentRuleAssignment.objects.create(agent=agent, rule=publishing_rule(unit))
    graphsim.control.add_fault("/subscriptions$", status=403, method="POST", times=1)
    assert subscriptions_sync().failed == 1
    # No subscription in Graph: this change reaches nobody.
    graphsim.control.set_presence(tenant.tenant_id, enabled, "Away", "Away")
    since = datetime.now(UTC)

    assert subscriptions_sync().created == 1

    presence = wait_for(
        lambda: AgentPresence.objects.filter(agent=agent, teams_availability="Away").first(),
        timeout=30,
        what="the presence read after the subscription came back",
    )
    assert (presence.acd_state, presence.acd_reason) == ("unavailable", "break")
    assert SyncRecord.objects.get(agent=agent).detail.startswith("Found by reconciliation.")
    [read] = sim_calls(graphsim, tenant, "getPresencesByUserId", since)
    assert (read["status"], read["app"]) == (200, tenant.client_id)


def test_an_unreachable_notification_url_explains_public_https(
    graphsim, world, settings, administrator_client
):
    settings.CCBRIDGE_PUBLIC_URL = "http://127.0.0.1:9"  # nothing listens there

    result = subscriptions_sync()

    assert result.failed == 1
    row = Subscription.objects.get()
    assert "ValidationError" in row.last_error
    assert "CCBRIDGE_PUBLIC_URL" in row.last_error and "public HTTPS" in row.last_error
    page = administrator_client.get(reverse("sync:subscriptions")).content.decode()
    assert 'data-hint="validation"' in page
    assert "Microsoft could not reach the notification URL" in page


def test_a_system_user_that_needs_mfa_hands_its_users_over(graphsim, world, handshake):
    tenant = world["tenant"]
    second = system_user_ok(graphsim, tenant)
    map_agents(tenant.users[20:24])
    subscriptions_sync()
    first_row = Subscription.objects.get(system_user=world["user"])
    assert first_row.members.count() == 24
    # The first account now needs MFA and its cached tokens are gone: the next
    # sign-in is refused (AADSTS50076).
    graphsim.control.set_mfa(tenant.tenant_id, world["user"].graph_id, True)
    SystemUser.objects.filter(pk=world["user"].pk).update(token_cache="")
    Subscription.objects.filter(pk=first_row.pk).update(status=Subscription.Status.REMOVED)

    result = subscriptions_sync()

    user = SystemUser.objects.get(pk=world["user"].pk)
    assert user.status == SystemUser.Status.MFA_REQUIRED
    assert "Conditional Access" in user.status_detail
    moved = Subscription.objects.get(system_user=second)
    assert moved.members.count() == 24 and moved.status == Subscription.Status.ACTIVE
    first_row.refresh_from_db()
    assert first_row.members.count() == 0 and "cannot sign in" in first_row.last_error
    assert result.covered == 24 and not result.not_covered


def test_users_beyond_the_pool_are_reported_not_covered(world, monkeypatch):
    from presence.subscriptions import services as subscriptions

    small = 15  # one system user with room for 15 of the 20 mapped agents
    monkeypatch.setattr(subscriptions, "plan", lambda current, wanted: plan(current, wanted, small))
    result = subscriptions_sync()
    assert result.covered == 15 and len(result.not_covered) == 5
    assert "Add system users" in result.summary()


def test_lookups_for_the_webhook(world):
    subscriptions_sync()
    row = Subscription.objects.get()
    assert subscription_for_graph_id(row.graph_id) == row
    assert subscription_for_graph_id(row.graph_id.upper()) == row
    assert subscription_for_graph_id("") is None
    assert subscription_for_graph_id("nope") is None
    state = row.client_state
    assert client_state_matches(row, state)
    assert not client_state_matches(row, state + "x")
    assert not client_state_matches(row, "")
    assert not client_state_matches(row, None)


def test_the_beat_task_writes_a_job_run_only_when_something_happened(world):
    subscription_tasks.subscriptions_maintain()
    assert JobRun.objects.filter(kind=subscription_tasks.MAINTAIN_KIND).count() == 1
    subscription_tasks.subscriptions_maintain()
    subscription_tasks.subscriptions_maintain()
    assert JobRun.objects.filter(kind=subscription_tasks.MAINTAIN_KIND).count() == 1


def test_disabling_a_system_user_deletes_its_subscription(graphsim, world):
    from presence.subscriptions.system_users import system_user_set_enabled

    subscriptions_sync()
    system_user_set_enabled(actor=None, user=world["user"], enabled=False)
    result = subscriptions_sync()
    assert result.deleted == 1
    assert sim_subscriptions(graphsim, world["tenant"]) == []
    assert len(result.not_covered) == 20


# --- screens -----------------------------------------------------------------------------


def test_a_supervisor_sees_health_but_cannot_manage(supervisor_client, db):
    assert supervisor_client.get(reverse("sync:subscriptions")).status_code == 200
    assert supervisor_client.get(reverse("sync:system_users")).status_code == 403
    assert supervisor_client.post(reverse("sync:subscriptions_sync")).status_code == 403
    response = supervisor_client.post(
        reverse("sync:system_users"), {"username": "x@y.example", "password": "p"}
    )
    assert response.status_code == 403
    assert not SystemUser.objects.exists()
    assert (
        supervisor_client.post(reverse("sync:system_users_create"), {"count": 1}).status_code == 403
    )


@pytest.mark.worker
def test_sync_now_runs_in_the_worker(celery_worker, administrator_client):
    response = administrator_client.post(reverse("sync:subscriptions_sync"))
    assert response.status_code == 302
    job = JobRun.objects.get(kind=subscription_tasks.SYNC_KIND)

    def finished():
        job.refresh_from_db()
        return job.is_finished

    wait_for(finished, timeout=30, what="the sync job")
    # No integration account: the worker ran the sync, which had nothing to do.
    assert job.status == JobRun.Status.SUCCEEDED, job.error or celery_worker.log()
    assert "No complete Teams integration account" in job.message


def test_the_console_webhook_validates_and_hands_over_lifecycle_events(
    graphsim, small_tenant, graph_settings, live_server, settings, monkeypatch
):
    """End to end with the real webhook (live server) instead of the test receiver."""
    settings.CCBRIDGE_PUBLIC_URL = live_server.url
    handed = []
    monkeypatch.setattr(
        subscription_tasks.subscription_lifecycle, "delay", lambda *args: handed.append(args)
    )
    sim_account(small_tenant)
    map_agents(small_tenant.users[:5])
    system_user_ok(graphsim, small_tenant)

    assert subscriptions_sync().created == 1  # the live webhook answered both handshakes
    row = Subscription.objects.get()
    graphsim.control.lifecycle(row.graph_id, "subscriptionRemoved")
    wait_for(lambda: handed, what="the webhook's hand-over")
    assert handed == [(row.graph_id, "subscriptionRemoved")]

    # The reconciliation it asks for goes to a queue no worker reads.
    with own_queue(monkeypatch, to_acd_tasks.reconcile):
        subscription_tasks.subscription_lifecycle(*handed[0])

    row.refresh_from_db()
    assert row.status == Subscription.Status.ACTIVE
    [listed] = sim_subscriptions(graphsim, small_tenant)
    assert listed["id"] == row.graph_id != handed[0][0]
    assert listed["notificationUrl"] == f"{live_server.url}/graph/notifications"


def test_the_expiry_countdown_reads_naturally():
    from presence.subscriptions.views import expires_in

    now = timezone.now()
    assert expires_in(None, now) == "—"
    assert expires_in(now + timedelta(minutes=42, seconds=30), now) == "expires in 42 min"
    assert expires_in(now + timedelta(seconds=30), now) == "expires in under a minute"
    assert expires_in(now - timedelta(minutes=2, seconds=10), now) == "expired 3 min ago"


def test_a_system_user_back_in_the_tenant_is_taken_back_by_the_beat_task(graphsim, world):
    tenant, user = world["tenant"], world["user"]
    subscriptions_sync()
    # The account disappears from the tenant (a simulator restart on an empty data
    # folder did this) and its cached sign-in with it.
    graphsim.control.delete_user(tenant.tenant_id, user.graph_id, permanent=True)
    SystemUser.objects.filter(pk=user.pk).update(token_cache="")
    Subscription.objects.filter(system_user=user).update(status=Subscription.Status.REMOVED)
    subscriptions_sync()
    user.refresh_from_db()
    assert user.status == SystemUser.Status.FAILED and "AADSTS50034" in user.status_detail

    graphsim.control.create_user(
        tenant.tenant_id,
        displayName="restored",
        userPrincipalName=user.username,
        password=SYSTEM_PASSWORD,
    )
    subscription_tasks.subscriptions_maintain()
    user.refresh_from_db()
    assert user.status == SystemUser.Status.FAILED  # checked a moment ago: not yet again

    SystemUser.objects.filter(pk=user.pk).update(checked_at=timezone.now() - timedelta(minutes=6))
    subscription_tasks.subscriptions_maintain()

    user.refresh_from_db()
    assert user.status == SystemUser.Status.OK
    row = Subscription.objects.get(system_user=user)
    assert row.status == Subscription.Status.ACTIVE and row.members.count() == 20


def test_the_beat_task_never_retries_a_wrong_password_by_itself(graphsim, world):
    user = world["user"]
    checked = timezone.now() - timedelta(hours=1)
    SystemUser.objects.filter(pk=user.pk).update(
        status=SystemUser.Status.WRONG_PASSWORD, checked_at=checked
    )
    started = datetime.now(UTC)

    subscription_tasks.subscriptions_maintain()

    user.refresh_from_db()
    assert user.status == SystemUser.Status.WRONG_PASSWORD and user.checked_at == checked
    # Each refused attempt counts toward the account's lockout in Entra ID.
    tokens = [c for c in graphsim.control.calls(since=started) if c["path"].endswith("/token")]
    assert not [c for c in tokens if c["tenant"] == world["tenant"].tenant_id]
