"""The demo's expert conferences: the seed marks a chat service account, and the demo
contact center conferences a demo expert through the API while the expert, played
through the simulator's control API, accepts and leaves, declines, or lets the
invitation lapse. A real worker, the simulator over HTTPS and the console's live
webhook carry every step; what is asserted is what the API, Teams and the contact
center's webhook show."""

import pytest

from accounts.models import DirectoryUser
from chat.models import ChatSubscription
from chat.subscription import subscription_ensure
from demo.conferences import DemoConferences, Scene
from demo.seed import demo_chat_account_ensure
from integrations.apikeys import api_key_create
from presence.subscriptions.system_users import system_user_add, system_user_check
from tests.accounts.factories import DirectoryUserFactory
from tests.chat.test_conference_end_to_end import received_events
from tests.plugins.celery_worker import wait_for
from tests.presence.support_sync import (
    SYSTEM_PASSWORD,
    sim_account,
    sim_system_user,
    small_tenant_fixture,  # noqa: F401
)
from tests.presence.support_webhook import acd_endpoint_set, acd_receiver_fixture  # noqa: F401


@pytest.fixture
def demo(graphsim, small_tenant, graph_settings, settings, live_server, acd_receiver, monkeypatch):
    """The demo seed's chat service account and chat subscription, one Teams user to play
    the expert, and the demo contact center's conference player (short pauses)."""
    settings.CCBRIDGE_PUBLIC_URL = live_server.url
    # The worker was started with another public URL: the subscription is made here.
    monkeypatch.setattr("chat.service_account.subscription_ensure_soon", lambda: None)
    sim_account(small_tenant)
    acd_endpoint_set(acd_receiver.url)
    made = sim_system_user(graphsim, small_tenant, name="demo_chat")
    system_user_check(
        system_user_add(actor=None, username=made["userPrincipalName"], password=SYSTEM_PASSWORD)
    )
    marked = demo_chat_account_ensure()
    assert marked is not None and marked.ready, marked and marked.status_detail
    assert demo_chat_account_ensure() is None  # once
    row = subscription_ensure()
    assert row.status == ChatSubscription.Status.ACTIVE, row.last_error
    person = small_tenant.users[3]
    DirectoryUserFactory(
        graph_id=person["id"],
        display_name="Robin Expert",
        user_principal_name=person["userPrincipalName"],
    )
    _key, raw = api_key_create(actor=None, name="Demo contact center", scopes=["chat:write"])
    player = DemoConferences(
        console_url=live_server.url, api_key=raw, tenant_id=small_tenant.tenant_id, pause=0.2
    )
    yield player
    player.close()


def _events(receiver, conference_id: str) -> list[tuple[str, str]]:
    said = [e for e in received_events(receiver) if e["conference"] == conference_id]
    return [(e["event"], e.get("text") or "") for e in sorted(said, key=lambda e: e["sequence"])]


def _first_event(receiver, conference_id: str) -> str:
    # The conference's state changes before its event reaches the contact center.
    events = wait_for(lambda: _events(receiver, conference_id), what="the conference's event")
    return events[0][0]


@pytest.mark.worker
def test_the_demo_plays_a_whole_conference_a_declined_and_a_lapsed_one(
    demo, celery_worker, acd_receiver, graphsim, small_tenant
):
    accepted = demo.play(Scene.ACCEPT)

    assert accepted.state == "left"
    lines = [(line["direction"], line["text"]) for line in accepted.transcript]
    assert ("system", "Robin Expert joined the session") in lines
    assert any(d == "to_expert" and t.endswith(": Thanks for joining!") for d, t in lines)
    assert lines[-1] == ("system", "Robin Expert left the session")
    events = _events(acd_receiver, accepted.conference_id)
    assert events[0] == ("party_joined", "Robin Expert joined the session")
    assert events[-1] == ("party_left", "Robin Expert left the session")
    assert [kind for kind, _ in events[1:-1]] and {k for k, _ in events[1:-1]} == {"message"}
    chat = graphsim.control.chats(small_tenant.tenant_id)[0]
    typed = [
        m["body"]["content"]
        for m in graphsim.control.chat_messages(small_tenant.tenant_id, chat["id"])
    ]
    assert "<p>YES</p>" in typed and typed[-1] == "<p>BYE</p>"

    declined = demo.play(Scene.DECLINE)
    assert declined.state == "declined"
    assert _first_event(acd_receiver, declined.conference_id) == "invitation_declined"

    lapsed = demo.play(Scene.LAPSE)
    assert lapsed.state == "expired"
    assert _first_event(acd_receiver, lapsed.conference_id) == "invitation_expired"
    assert DirectoryUser.objects.count() == 1  # one expert played every part
