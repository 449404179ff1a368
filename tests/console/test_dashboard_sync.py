"""The dashboard's presence sync panel: subscriptions, coverage, system users,
notifications and ACD deliveries, red or amber where something is wrong."""

import re
from datetime import timedelta

from django.urls import reverse
from django.utils import timezone

from presence.subscriptions.system_users import NOT_FOUND_HINT
from presence.sync_models import AcdDelivery, Subscription, SystemUser
from tests.accounts.factories import AgentMappingFactory
from tests.presence.factories import AcdDeliveryFactory, SubscriptionFactory, SystemUserFactory


def _panel(client, **headers) -> str:
    page = client.get(reverse("console:dashboard"), **headers).content.decode()
    match = re.search(r'<section[^>]*id="presence-sync".*?</section>', page, re.DOTALL)
    assert match, "the dashboard has no presence sync panel"
    return match.group(0)


def _part(panel: str, name: str) -> str:
    match = re.search(rf'<div class="tile tile-(\w+)" data-part="{name}">(.*?)</div>', panel, re.S)
    assert match, f"no {name} tile"
    text = re.sub(r"<[^>]+>", " ", match.group(2))
    return match.group(1) + " " + re.sub(r"\s+", " ", text).strip()


def _mapped(count: int) -> list:
    return [AgentMappingFactory().directory_user for _ in range(count)]


def test_before_presence_sync_is_set_up_the_panel_is_neither_red_nor_amber(administrator_client):
    panel = _panel(administrator_client)

    assert 'data-level="idle"' in panel
    assert "tile-fail" not in panel and "tile-warn" not in panel
    assert "none yet" in _part(panel, "notifications")


def test_a_system_user_that_cannot_sign_in_turns_the_panel_red(administrator_client):
    SubscriptionFactory(system_user=SystemUserFactory()).members.set(_mapped(3))
    SystemUserFactory(status=SystemUser.Status.FAILED, status_detail=NOT_FOUND_HINT)

    panel = _panel(administrator_client)

    assert 'data-level="fail"' in panel
    part = _part(panel, "system-users")
    assert part.startswith("fail ")
    assert "1 working" in part and "1 cannot sign in" in part
    assert f'href="{reverse("sync:system_users")}"' in panel


def test_a_disabled_system_user_does_not_count_as_failing(administrator_client):
    SystemUserFactory(status=SystemUser.Status.FAILED, enabled=False)

    assert not _part(_panel(administrator_client), "system-users").startswith("fail ")


def test_subscriptions_are_counted_active_failing_and_expiring(administrator_client):
    users = _mapped(3)
    SubscriptionFactory().members.set(users[:1])
    SubscriptionFactory(expires_at=timezone.now() + timedelta(minutes=4)).members.set(users[1:2])
    SubscriptionFactory(status=Subscription.Status.FAILED, last_error="Graph answered 403")

    panel = _panel(administrator_client)

    part = _part(panel, "subscriptions")
    assert part.startswith("fail ")
    assert "2 active" in part and "1 failing" in part and "1 expiring" in part
    coverage = _part(panel, "coverage")
    assert coverage.startswith("warn ") and "2 of 3 mapped" in coverage
    assert f'href="{reverse("sync:subscriptions")}"' in panel


def test_a_subscription_close_to_expiry_is_amber(administrator_client):
    users = _mapped(1)
    SubscriptionFactory(expires_at=timezone.now() + timedelta(minutes=4)).members.set(users)

    part = _part(_panel(administrator_client), "subscriptions")

    assert part.startswith("warn ") and "1 expiring" in part


def test_mapped_agents_without_any_subscription_are_red(administrator_client):
    _mapped(2)

    panel = _panel(administrator_client)

    assert _part(panel, "coverage").startswith("fail ")
    assert "0 of 2 mapped" in _part(panel, "coverage")
    assert _part(panel, "subscriptions").startswith("fail ")


def test_the_last_notification_and_the_last_acd_delivery_are_shown(administrator_client):
    SubscriptionFactory(last_notification_at=timezone.now() - timedelta(minutes=3))
    AcdDeliveryFactory(status=AcdDelivery.Status.DEAD, attempts=6, last_error="HTTP 500")
    AcdDeliveryFactory(status=AcdDelivery.Status.DEAD, attempts=6, last_error="HTTP 500")
    AcdDeliveryFactory(status=AcdDelivery.Status.DELIVERED, delivered_at=timezone.now())

    panel = _panel(administrator_client)

    assert "3 minutes ago" in _part(panel, "notifications")
    acd = _part(panel, "acd")
    assert acd.startswith("fail ")
    assert "Delivered" in acd and "2 dead letters" in acd
    assert f'href="{reverse("sync:acd_dead_letters")}"' in panel


def test_an_acd_delivery_being_retried_is_amber_with_its_error(administrator_client):
    AcdDeliveryFactory(status=AcdDelivery.Status.PENDING, attempts=2, last_error="HTTP 503")

    acd = _part(_panel(administrator_client), "acd")

    assert acd.startswith("warn ") and "HTTP 503" in acd


def test_a_supervisor_gets_links_only_to_pages_they_may_open(supervisor_client):
    SystemUserFactory(status=SystemUser.Status.FAILED, status_detail=NOT_FOUND_HINT)

    panel = _panel(supervisor_client)

    assert f'href="{reverse("sync:subscriptions")}"' in panel
    assert f'href="{reverse("sync:system_users")}"' not in panel
    assert f'href="{reverse("sync:acd_dead_letters")}"' not in panel
    assert _part(panel, "system-users").startswith("fail ")


def test_htmx_refreshes_the_panel_alone(administrator_client):
    SystemUserFactory(status=SystemUser.Status.FAILED)

    response = administrator_client.get(
        reverse("console:dashboard"), HTTP_HX_REQUEST="true", HTTP_HX_TARGET="presence-sync"
    )

    body = response.content.decode()
    assert body.lstrip().startswith('<section class="card sync-panel"')
    assert 'id="system-status"' not in body
    assert 'data-level="fail"' in body
