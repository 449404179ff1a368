"""A lifecycle ``missed`` event end to end, with nothing faked on our side.

docs/graph.md, "Change notifications": lifecycle ``missed`` → resync. The simulator POSTs
the event to the console's ``/graph/lifecycle`` (the live server), the view queues
``subscription_lifecycle`` on the broker, the worker runs it and queues ``reconcile``,
and the worker reads the members' presence with getPresencesByUserId.
"""

from datetime import UTC, datetime

import pytest

from presence.subscriptions.services import subscriptions_sync
from presence.subscriptions.system_users import system_user_add, system_user_check
from presence.sync_models import AgentPresence, Subscription, SyncRecord, SystemUser
from tests.plugins.celery_worker import wait_for
from tests.presence.support_sync import (
    SYSTEM_PASSWORD,
    sim_account,
    sim_system_user,
    small_tenant_fixture,  # noqa: F401
)
from tests.presence.support_to_teams import (
    enabled_users,
    mapped_agent,
    publishing_rule,
    sim_calls,
)

GET_PRESENCES = "getPresencesByUserId"
RECONCILE_NOTE = "Found by reconciliation."


def system_user_signed_in(graphsim, tenant) -> SystemUser:
    made = sim_system_user(graphsim, tenant)
    user = system_user_add(actor=None, username=made["userPrincipalName"], password=SYSTEM_PASSWORD)
    assert system_user_check(user).status == SystemUser.Status.OK, user.status_detail
    return user


@pytest.mark.worker
def test_a_missed_event_brings_in_the_presence_no_notification_reported(
    unit, graphsim, small_tenant, graph_settings, settings, live_server, celery_worker
):
    settings.CCBRIDGE_PUBLIC_URL = live_server.url
    tenant = small_tenant
    sim_account(tenant)
    rule = publishing_rule(unit)
    users = enabled_users(tenant)[:3]
    agents = [mapped_agent(unit, user, rule=rule) for user in users]
    system_user_signed_in(graphsim, tenant)
    # The agent goes on a break in Teams before anything watches them: no notification
    # can carry this change, as when Graph drops notifications and sends "missed".
    graphsim.control.set_presence(tenant.tenant_id, users[0]["id"], "Away", "Away")
    assert subscriptions_sync().created == 1  # the live webhook answered both handshakes
    subscription = Subscription.objects.get()
    assert subscription.members.count() == 3
    since = datetime.now(UTC)

    graphsim.control.lifecycle(subscription.graph_id, "missed")

    presence = wait_for(
        lambda: AgentPresence.objects.filter(agent=agents[0], teams_availability="Away").first(),
        timeout=30,
        what="the reconciled presence",
    )
    assert (presence.teams_activity, presence.acd_state, presence.acd_reason) == (
        "Away",
        "unavailable",
        "break",
    )
    record = SyncRecord.objects.get(agent=agents[0])
    assert (record.direction, record.outcome) == (
        SyncRecord.Direction.TO_ACD,
        SyncRecord.Outcome.APPLIED,
    )
    assert record.detail.startswith(RECONCILE_NOTE)
    # Every history line came from reconciliation, none from a change notification.
    assert not SyncRecord.objects.exclude(detail__startswith=RECONCILE_NOTE).exists()
    # The event reached the console's own webhook, and the worker read Teams once.
    lifecycle_url = f"{live_server.url}/graph/lifecycle"
    delivered = [d for d in graphsim.control.deliveries() if d["url"] == lifecycle_url]
    assert delivered and delivered[-1]["status"] == 202
    [call] = sim_calls(graphsim, tenant, GET_PRESENCES, since)
    assert (call["status"], call["app"]) == (200, tenant.client_id)
    # "missed" resyncs only: the subscription itself is left as it was.
    assert Subscription.objects.get().graph_id == subscription.graph_id
    assert [s["id"] for s in graphsim.control.subscriptions(tenant.tenant_id)] == [
        subscription.graph_id
    ]
