"""A `missed` lifecycle event over the real path: the simulator loses the notifications of
three messages the expert typed in a joined conference, then tells the console's live
lifecycle webhook it missed some; a real worker reads the chat back and the contact
center receives the three messages once each, in the order they were typed."""

import time

import pytest

from chat.models import ChatSubscription, Conference
from tests.chat.support import live_bed_fixture  # noqa: F401
from tests.chat.test_conference_end_to_end import URL, received_events
from tests.plugins.celery_worker import wait_for
from tests.presence.support_sync import small_tenant_fixture  # noqa: F401
from tests.presence.support_webhook import (
    acd_receiver_fixture,  # noqa: F401
    signature_valid,
)


def _messages(receiver) -> list[str]:
    return [e["text"] for e in received_events(receiver) if e["event"] == "message"]


@pytest.mark.worker
def test_messages_whose_notifications_were_lost_arrive_once_in_order_after_missed(
    live_bed, celery_worker, acd_receiver, graphsim
):
    bed, row, desk = live_bed.bed, live_bed.subscription, live_bed.desk
    created = desk.post(
        URL,
        {
            "customer_chat_id": "cc-77",
            "agent": bed.agent_external_id,
            "expert": bed.expert.graph_id,
            "customer_name": "Ann Customer",
        },
        content_type="application/json",
    )
    assert created.status_code == 202, created.content
    conference = Conference.objects.get(public_id=created.json()["id"])
    chat_id = wait_for(
        lambda: (
            Conference.objects.get(pk=conference.pk).invitation_sent_at
            and Conference.objects.get(pk=conference.pk).teams_chat_id
        ),
        what="the invitation in Teams",
    )
    bed.expert_types(chat_id, "YES")
    wait_for(lambda: received_events(acd_receiver), timeout=30, what="party_joined")

    graphsim.control.lose_notifications(row.graph_id, 3)
    for text in ("first", "second", "third"):
        bed.expert_types(chat_id, text)
    time.sleep(2)  # what Graph would have delivered by now, had it not lost them
    assert _messages(acd_receiver) == []

    graphsim.control.lifecycle(row.graph_id, "missed")
    wait_for(lambda: len(_messages(acd_receiver)) >= 3, timeout=30, what="three messages")
    time.sleep(1)  # a repeat would have followed by now
    said = sorted(received_events(acd_receiver), key=lambda e: e["sequence"])
    assert [(e["event"], e["text"], e["sequence"]) for e in said] == [
        ("party_joined", "Avery Quinn joined the session", 1),
        ("message", "first", 2),
        ("message", "second", 3),
        ("message", "third", 4),
    ]
    assert all(signature_valid(r) for r in acd_receiver.received)
    assert ChatSubscription.objects.get().missed == 1
