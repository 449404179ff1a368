"""A conference end to end, nothing faked on our side: the contact center calls the API,
a real worker invites the expert in the simulator, the simulator notifies the console's
live webhook of what the expert types, and the ACD receiver gets signed events, in order."""

import pytest

from chat.models import Conference
from tests.chat.support import live_bed_fixture  # noqa: F401
from tests.plugins.celery_worker import wait_for
from tests.presence.support_sync import small_tenant_fixture  # noqa: F401
from tests.presence.support_webhook import (
    acd_receiver_fixture,  # noqa: F401
    signature_valid,
)

URL = "/api/v1/chat-conferences"


def received_events(receiver) -> list[dict]:
    return [r.json for r in receiver.received if r.json.get("event") != "teams.presence"]


@pytest.mark.worker
def test_a_conference_runs_from_the_api_to_teams_and_back(
    live_bed, celery_worker, acd_receiver, graphsim
):
    bed, desk = live_bed.bed, live_bed.desk

    created = desk.post(
        URL,
        {
            "customer_chat_id": "cc-42",
            "agent": bed.agent_external_id,
            "expert": bed.expert.user_principal_name,
            "customer_name": "Ann Customer",
            "context": [{"author": "Ann Customer", "text": "Is line 12 right?"}],
        },
        content_type="application/json",
    )
    assert created.status_code == 202, created.content
    conference = Conference.objects.get(public_id=created.json()["id"])
    chat_id = wait_for(
        lambda: Conference.objects.get(pk=conference.pk).teams_chat_id, what="the Teams chat"
    )
    wait_for(
        lambda: any("(YES/NO)" in text for _, text in bed.chat_lines(chat_id)),
        what="the invitation in Teams",
    )

    bed.expert_types(chat_id, "Yes")
    wait_for(lambda: received_events(acd_receiver), timeout=30, what="party_joined")
    relay = desk.post(
        f"{URL}/{conference.public_id}/messages",
        {"author_role": "customer", "author_name": "Ann Customer", "text": "Thanks for joining"},
        content_type="application/json",
    )
    assert relay.status_code == 202, relay.content
    wait_for(
        lambda: bed.chat_lines(chat_id)[-1][1] == "Ann Customer: Thanks for joining",
        what="the relayed message in Teams",
    )
    bed.expert_types(chat_id, "Line 12 is right")
    bed.expert_types(chat_id, "bye")

    wait_for(lambda: len(received_events(acd_receiver)) >= 3, timeout=30, what="three events")
    said = sorted(received_events(acd_receiver), key=lambda e: e["sequence"])
    assert [(e["event"], e["sequence"], e["text"]) for e in said] == [
        ("party_joined", 1, "Avery Quinn joined the session"),
        ("message", 2, "Line 12 is right"),
        ("party_left", 3, "Avery Quinn left the session"),
    ]
    assert all(e["conference"] == str(conference.public_id) for e in said)
    assert all(e["customer_chat_id"] == "cc-42" for e in said)
    assert all(signature_valid(r) for r in acd_receiver.received)
    detail = desk.get(f"{URL}/{conference.public_id}").json()
    assert detail["state"] == "left"
    assert [line["text"] for line in detail["transcript"]][:2] == [
        "Ann Customer: Is line 12 right?",
        "You are invited to customer chat session, would you like to accept (YES/NO)?",
    ]
