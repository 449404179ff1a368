"""Reconciliation: getPresencesByUserId with the app's token, 650 ids a call within the
rate limit, each presence handed to the Teams → contact center path."""

import uuid
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from django.utils import timezone

from accounts.models import Agent, AgentMapping, DirectoryUser
from presence.sync_models import AgentPresence, Subscription, SyncRecord
from presence.to_acd.reconcile import TokenBucket, presences_reconcile, reconcile_agents
from presence.to_acd.tasks import reconcile
from tests.accounts.factories import AgentFactory, AgentMappingFactory
from tests.plugins.celery_worker import wait_for
from tests.presence.factories import SubscriptionFactory
from tests.presence.support_to_teams import (
    account_for,
    enabled_users,
    mapped_agent,
    publishing_rule,
    sim_calls,
)

GET_PRESENCES = "getPresencesByUserId"


@pytest.fixture
def world(unit, sim_tenant, graph_settings, graphsim):
    rule = publishing_rule(unit)
    user = enabled_users(sim_tenant)[0]
    return SimpleNamespace(
        account=account_for(sim_tenant),
        rule=rule,
        user=user,
        agent=mapped_agent(unit, user, rule=rule),
        tenant=sim_tenant,
        sim=graphsim,
        unit=unit,
    )


def subscription_watching(*users: DirectoryUser, **fields) -> Subscription:
    subscription = SubscriptionFactory(**fields)
    subscription.members.set(users)
    return subscription


def test_a_presence_changed_in_teams_is_picked_up_and_applied_toward_the_acd(world):
    world.sim.control.set_presence(world.tenant.tenant_id, world.user["id"], "Busy", "InACall")
    since = datetime.now(UTC)

    result = presences_reconcile()

    assert (result.agents, result.calls, result.errors) == (1, 1, 0)
    assert result.outcomes == {SyncRecord.Outcome.APPLIED: 1}
    (call,) = sim_calls(world.sim, world.tenant, GET_PRESENCES, since)
    assert (call["status"], call["app"]) == (200, world.tenant.client_id)
    presence = AgentPresence.objects.get(agent=world.agent)
    assert (presence.teams_availability, presence.teams_activity) == ("Busy", "InACall")
    assert presence.acd_state == "working"
    record = SyncRecord.objects.get(agent=world.agent)
    assert record.direction == SyncRecord.Direction.TO_ACD
    assert record.detail.startswith("Found by reconciliation.")

    # Nothing changed in Teams since: the same sequenceNumber is not applied twice.
    assert presences_reconcile().outcomes == {"unchanged": 1}
    assert SyncRecord.objects.count() == 1


def test_a_hand_set_status_found_by_reconciliation_marks_the_agent_manual(world):
    AgentPresence.objects.create(
        agent=world.agent,
        published_availability="Busy",
        published_activity="InACall",
        session_expires_at=timezone.now() + timedelta(hours=1),
    )
    world.sim.control.set_presence(
        world.tenant.tenant_id, world.user["id"], "DoNotDisturb", "DoNotDisturb", preferred=True
    )

    presences_reconcile()

    assert AgentPresence.objects.get(agent=world.agent).manual_in_teams is True
    assert SyncRecord.objects.get().outcome == SyncRecord.Outcome.SKIPPED_MANUAL


def test_by_default_only_agents_no_active_subscription_watches_are_read(unit):
    watched, unwatched, lapsed = (AgentMappingFactory(agent__business_unit=unit) for _ in "abc")
    subscription_watching(watched.directory_user)
    subscription_watching(lapsed.directory_user, expires_at=timezone.now() - timedelta(minutes=1))
    subscription_watching(
        AgentMappingFactory(agent__business_unit=unit).directory_user,
        status=Subscription.Status.FAILED,
    )
    off = AgentMappingFactory(agent__business_unit=unit, agent__teams_enabled=False)
    removed = AgentMappingFactory(
        agent__business_unit=unit, directory_user__removed_reason="deleted"
    )
    AgentFactory(business_unit=unit)  # not mapped

    def read(**kwargs) -> set[int]:
        return set(reconcile_agents(**kwargs).values_list("pk", flat=True))

    everyone = set(
        Agent.objects.filter(mapping__isnull=False)
        .exclude(pk__in=[off.agent_id, removed.agent_id])
        .values_list("pk", flat=True)
    )
    assert read() == everyone - {watched.agent_id}
    assert read(reason="missed") == everyone - {watched.agent_id}
    # After an outage what the subscriptions brought is in doubt too.
    assert read(reason="outage") == everyone
    # Named agents are read watched or not, but never disabled or unmapped ones.
    named = [watched.agent_id, off.agent_id, unwatched.agent_id]
    assert read(agent_ids=named) == {watched.agent_id, unwatched.agent_id}


def test_1300_agents_take_two_calls_of_at_most_650_ids(unit, sim_tenant, graph_settings, graphsim):
    """docs/graph.md "Presence": getPresencesByUserId takes at most 650 ids a call."""
    account_for(sim_tenant)
    agents = Agent.objects.bulk_create(
        Agent(external_id=f"bulk-{n}", name=f"Bulk {n}", business_unit=unit) for n in range(1300)
    )
    users = DirectoryUser.objects.bulk_create(
        DirectoryUser(graph_id=str(uuid.uuid4()), display_name=f"Bulk {n}") for n in range(1300)
    )
    AgentMapping.objects.bulk_create(
        AgentMapping(agent=agent, directory_user=user, method=AgentMapping.Method.API)
        for agent, user in zip(agents, users, strict=True)
    )
    since = datetime.now(UTC)

    result = presences_reconcile(reason="outage")

    assert (result.agents, result.calls) == (1300, 2)
    calls = sim_calls(graphsim, sim_tenant, GET_PRESENCES, since)
    assert [c["status"] for c in calls] == [200, 200]
    # Users the tenant does not know come back as PresenceUnknown and are left alone.
    assert result.outcomes == {}


def test_a_429_on_get_presences_is_waited_out(world):
    """docs/graph.md: 1,500 calls / 30 s per app per tenant, then 429 with Retry-After."""
    world.sim.control.add_fault(GET_PRESENCES, status=429, retry_after=0.05, times=1)
    world.sim.control.set_presence(world.tenant.tenant_id, world.user["id"], "Busy", "InACall")
    since = datetime.now(UTC)

    result = presences_reconcile()

    assert [c["status"] for c in sim_calls(world.sim, world.tenant, GET_PRESENCES, since)] == [
        429,
        200,
    ]
    assert result.outcomes == {SyncRecord.Outcome.APPLIED: 1}


def test_the_token_bucket_allows_1500_calls_per_30_seconds():
    now = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    bucket = TokenBucket(clock=lambda: now[0], sleep=sleep)
    for _ in range(1500):
        bucket.take()
    assert slept == []

    bucket.take()
    assert slept == [pytest.approx(30 / 1500)]
    now[0] += 30
    for _ in range(1499):
        bucket.take()
    assert len(slept) == 1


def test_without_an_account_nothing_is_read(unit):
    AgentMappingFactory(agent__business_unit=unit)
    assert presences_reconcile(reason="outage").calls == 0


def test_the_scheduled_reconciliation_runs_in_the_worker(celery_worker, world):
    world.sim.control.set_presence(world.tenant.tenant_id, world.user["id"], "Away", "Away")

    reconcile.delay(reason="scheduled")

    presence = wait_for(
        lambda: AgentPresence.objects.filter(agent=world.agent, teams_availability="Away").first(),
        what="the reconciled presence",
    )
    assert (presence.acd_state, presence.acd_reason) == ("unavailable", "break")
