"""The chat-message subscription on the Subscription health page, beside the presence
subscriptions: its resource, expiry, last notification, lifecycle events and last error,
as Graph (the simulator, over HTTPS) left them."""

import pytest
from django.urls import reverse

from chat.models import ChatSubscription
from chat.subscription import subscription_ensure, subscription_lifecycle
from tests.chat.support import bed_fixture  # noqa: F401

PAGE = reverse("sync:subscriptions")


def _chat_section(client) -> str:
    html = client.get(PAGE).content.decode()
    return html.split("data-chat-subscription")[1].split("</section>")[0]


def test_without_a_chat_service_account_the_page_says_what_to_do(administrator_client, db):
    section = _chat_section(administrator_client)
    assert "No chat service account is set" in section
    assert '<a href="/system-users/">mark a system user for chat</a>' in section


@pytest.mark.django_db(transaction=True)
def test_the_page_shows_the_live_subscription_its_lifecycle_events_and_its_last_error(
    bed, graphsim, live_server, settings, administrator_client, supervisor_client
):
    # Graph checks the notification URLs while creating it: the live console answers.
    settings.CCBRIDGE_PUBLIC_URL = live_server.url
    row = subscription_ensure()
    assert row.status == ChatSubscription.Status.ACTIVE, row.last_error
    resource = f"/users/{bed.service.system_user.graph_id}/chats/getAllMessages"

    section = _chat_section(supervisor_client)
    assert resource in section and row.graph_id in section
    assert "Active" in section and "expires in 5" in section  # 54 or 55 min
    assert "none yet" in section
    assert f"{live_server.url}/graph/chat/notifications" in section

    assert subscription_lifecycle(row.graph_id, "reauthorizationRequired") == "renewed"
    assert subscription_lifecycle(row.graph_id, "missed").startswith("read back")
    section = _chat_section(supervisor_client)
    assert "1 reauthorization " in section and "1 missed" in section

    # Graph removes it and refuses to make it again: the page says so.
    graphsim.control.add_fault("/subscriptions$", status=403, method="POST", times=1)
    subscription_lifecycle(ChatSubscription.objects.get().graph_id, "subscriptionRemoved")
    row = ChatSubscription.objects.get()
    assert row.status == ChatSubscription.Status.FAILED
    section = _chat_section(administrator_client)
    assert "Failed" in section and "1 removal " in section
    assert "Could not keep the chat-message subscription" in section


def test_the_chat_subscription_refreshes_with_the_presence_ones(administrator_client, db):
    partial = administrator_client.get(PAGE, headers={"HX-Request": "true"}).content.decode()
    assert "<html" not in partial and "data-chat-subscription" in partial
