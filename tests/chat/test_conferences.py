"""Conferences against the simulator over HTTPS: the chat service account invites an
expert, the expert's answers and messages become events for the contact center, once
and in order. Tasks are called directly here (test_conference_end_to_end.py runs them
on a real worker, with the simulator's notifications)."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from chat import inbound, services
from chat.models import Conference, ConferenceMessage
from chat.service_account import chat_service_account_clear
from chat.words import INVITATION_LAPSED
from graph.client import GraphClient
from integrations.apikeys import api_key_create
from integrations.graphlink import app_token_provider, graph_config
from tests.chat.support import PNG, bed_fixture, events, item_of  # noqa: F401

URL = "/api/v1/chat-conferences"


@pytest.fixture
def desk(db) -> Client:
    _key, raw = api_key_create(actor=None, name="Agent desktop", scopes=["chat:write"])
    return Client(headers={"Authorization": f"Bearer {raw}"})


def start(bed, **fields) -> Conference:
    conference, _presence = services.conference_create(
        customer_chat_id=fields.pop("customer_chat_id", "cc-chat-1"),
        agent_external_id=bed.agent_external_id,
        expert=fields.pop("expert", bed.expert.user_principal_name),
        customer_name=fields.pop("customer_name", "Ann Customer"),
        **fields,
    )
    return services.conference_invite(conference.pk)


def apply(bed, message: dict) -> None:
    inbound.notifications_apply([item_of(message)])


def test_the_whole_yes_path(bed):
    conference = start(bed, context=[{"author": "Ann Customer", "text": "My tax return?"}])
    assert conference.state == Conference.State.INVITING and conference.teams_chat_id
    service_id = bed.service.system_user.graph_id
    assert bed.chat_lines(conference.teams_chat_id) == [
        (service_id, "Ann Customer: My tax return?"),
        (
            service_id,
            "You are invited to customer chat session, would you like to accept (YES/NO)?",
        ),
    ]

    apply(bed, bed.expert_types(conference.teams_chat_id, "  yes "))
    conference.refresh_from_db()
    assert conference.state == Conference.State.JOINED
    [joined] = events(conference)
    assert (joined["event"], joined["text"], joined["sequence"]) == (
        "party_joined",
        "Avery Quinn joined the session",
        1,
    )
    assert joined["customer_chat_id"] == "cc-chat-1"

    services.conference_relay(conference, author_role="customer", author_name="Ann", text="Hi!")
    services.conference_relay(conference, author_role="agent", author_name="Bo", text="Welcome")
    assert services.conference_send_pending(conference.pk) == 2
    assert bed.chat_lines(conference.teams_chat_id)[-2:] == [
        (service_id, "Ann: Hi!"),
        (service_id, "Bo: Welcome"),
    ]

    apply(bed, bed.expert_types(conference.teams_chat_id, "Line 12 is the one", image=PNG))
    apply(bed, bed.expert_types(conference.teams_chat_id, "BYE"))
    conference.refresh_from_db()
    assert conference.state == Conference.State.LEFT
    said = events(conference)
    assert [(e["event"], e["sequence"]) for e in said] == [
        ("party_joined", 1),
        ("message", 2),
        ("party_left", 3),
    ]
    assert said[1]["text"] == "Line 12 is the one" and said[1]["author"] == "Avery Quinn"
    [link] = said[1]["images"]
    image = Client().get(link[link.index("/chat/media/") :])
    assert image.status_code == 200 and image.content == PNG
    assert image["Content-Type"] == "image/png"
    assert said[2]["text"] == "Avery Quinn left the session"
    directions = [line.direction for line in conference.messages.order_by("sequence")]
    assert directions.count(ConferenceMessage.Direction.FROM_EXPERT) == 3


def test_no_declines_and_other_words_before_an_answer_are_ignored(bed):
    conference = start(bed)
    apply(bed, bed.expert_types(conference.teams_chat_id, "who is this?"))
    assert events(conference) == []
    apply(bed, bed.expert_types(conference.teams_chat_id, "no"))
    conference.refresh_from_db()
    assert conference.state == Conference.State.DECLINED
    assert [e["event"] for e in events(conference)] == ["invitation_declined"]


def test_an_unanswered_invitation_lapses_and_the_expert_is_told(bed):
    conference = start(bed)
    assert services.conference_expire(conference.pk).state == Conference.State.INVITING  # early
    Conference.objects.filter(pk=conference.pk).update(
        invitation_expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert services.invitations_expire_due() == 1
    services.conference_send_pending(conference.pk)
    conference.refresh_from_db()
    assert conference.state == Conference.State.EXPIRED
    assert [e["event"] for e in events(conference)] == ["invitation_expired"]
    assert bed.chat_lines(conference.teams_chat_id)[-1][1] == INVITATION_LAPSED
    # A late YES changes nothing.
    apply(bed, bed.expert_types(conference.teams_chat_id, "YES"))
    assert [e["event"] for e in events(conference)] == ["invitation_expired"]


def test_the_contact_center_ends_it_and_the_expert_reads_session_ended(bed, desk):
    conference = start(bed)
    apply(bed, bed.expert_types(conference.teams_chat_id, "YES"))
    response = desk.delete(f"{URL}/{conference.public_id}")
    assert response.status_code == 202 and response.json()["state"] == "ended"
    services.conference_send_pending(conference.pk)
    assert bed.chat_lines(conference.teams_chat_id)[-1][1] == "Customer chat session ended"
    # Again: nothing changes; relaying is refused.
    assert desk.post(f"{URL}/{conference.public_id}/end").json()["state"] == "ended"
    relay = desk.post(
        f"{URL}/{conference.public_id}/messages",
        {"author_role": "agent", "author_name": "Bo", "text": "hello?"},
        content_type="application/json",
    )
    assert relay.status_code == 409


def test_edited_system_messages_apply_to_the_next_conference(bed):
    bed.account.msg_invitation = "Can you help a customer? SURE/NOPE"
    bed.account.msg_positive_response = "Sure"
    bed.account.msg_party_joined = "is with you now"
    bed.account.save()
    conference = start(bed)
    assert bed.chat_lines(conference.teams_chat_id)[-1][1] == "Can you help a customer? SURE/NOPE"
    apply(bed, bed.expert_types(conference.teams_chat_id, "YES"))  # no longer the word
    assert events(conference) == []
    apply(bed, bed.expert_types(conference.teams_chat_id, "sure"))
    assert events(conference)[0]["text"] == "Avery Quinn is with you now"


def test_the_same_notification_twice_is_delivered_once(bed):
    conference = start(bed)
    apply(bed, bed.expert_types(conference.teams_chat_id, "YES"))
    message = bed.expert_types(conference.teams_chat_id, "Only once")
    inbound.notifications_apply([item_of(message), item_of(message)])
    apply(bed, message)
    assert [e["event"] for e in events(conference)] == ["party_joined", "message"]


def test_a_missed_event_reads_the_chat_back_once_and_in_order(bed):
    conference = start(bed)
    apply(bed, bed.expert_types(conference.teams_chat_id, "YES"))
    first = bed.expert_types(conference.teams_chat_id, "one")
    apply(bed, first)  # this one was notified
    services.conference_relay(conference, author_role="agent", author_name="Bo", text="go on")
    services.conference_send_pending(conference.pk)
    for text in ("two", "three", "four"):  # these were not
        bed.expert_types(conference.teams_chat_id, text)

    assert inbound.conferences_catch_up() == 3
    assert inbound.conferences_catch_up() == 0
    said = events(conference)
    assert [(e["event"], e["text"]) for e in said] == [
        ("party_joined", "Avery Quinn joined the session"),
        ("message", "one"),
        ("message", "two"),
        ("message", "three"),
        ("message", "four"),
    ]
    assert [e["sequence"] for e in said] == [1, 2, 3, 4, 5]


def test_an_app_only_send_is_refused_with_a_clear_error(bed, monkeypatch):
    def app_client(account):
        tokens = app_token_provider(bed.account)
        return GraphClient(graph_config(), tokens), tokens

    conference = start(bed)
    monkeypatch.setattr("chat.services.chat_graph_client", app_client)
    monkeypatch.setattr("chat.services.chat_cache_save", lambda *args: None)
    apply(bed, bed.expert_types(conference.teams_chat_id, "YES"))
    services.conference_relay(conference, author_role="agent", author_name="Bo", text="Hi")
    services.conference_send_pending(conference.pk)
    conference.refresh_from_db()
    assert conference.state == Conference.State.FAILED
    assert "Graph sends chat messages only for a signed-in user" in conference.error
    assert "ChatMessage.Send" in conference.error
    assert events(conference)[-1]["event"] == "conference_failed"


def test_messages_of_others_and_before_the_invitation_do_not_count(bed):
    conference = start(bed)
    chat_id = conference.teams_chat_id
    service_id = bed.service.system_user.graph_id
    own = bed.control.type_chat_message(bed.tenant.tenant_id, chat_id, service_id, "YES")
    apply(bed, own)
    assert events(conference) == []
    assert Conference.objects.get(pk=conference.pk).state == Conference.State.INVITING


# --- the API's refusals ------------------------------------------------------------------


def body(bed, **fields) -> dict:
    return {
        "customer_chat_id": "cc-9",
        "agent": bed.agent_external_id,
        "expert": bed.expert.graph_id,
        "customer_name": "Ann Customer",
        **fields,
    }


def post(desk, data):
    return desk.post(URL, data, content_type="application/json")


def test_an_offline_expert_is_refused_unless_the_request_insists(bed, desk):
    bed.set_presence("Offline", "Offline")
    refused = post(desk, body(bed))
    assert refused.status_code == 409
    assert "Avery Quinn is Offline" in refused.json()["detail"]
    accepted = post(desk, body(bed, insist=True))
    assert accepted.status_code == 202
    answer = accepted.json()
    assert answer["state"] == "inviting"
    assert answer["expert"]["presence"] == {"availability": "Offline", "activity": "Offline"}
    # The same expert in a second live conference: their chat is in use.
    assert post(desk, body(bed, insist=True)).status_code == 409
    detail = desk.get(f"{URL}/{answer['id']}").json()
    assert (detail["state"], detail["customer_name"], detail["transcript"]) == (
        "inviting",
        "Ann Customer",
        [],
    )


def test_an_unknown_expert_is_a_problem_of_the_expert_field(bed, desk):
    response = post(desk, body(bed, expert="nobody@nowhere.example"))
    assert response.status_code == 422
    assert [e["path"] for e in response.json()["errors"]] == ["expert"]


def test_without_a_chat_service_account_the_problem_says_what_to_set_up(bed, desk):
    chat_service_account_clear(actor=None)
    response = post(desk, body(bed))
    assert response.status_code == 409
    assert "System users page" in response.json()["detail"]


def test_the_request_is_validated(bed, desk):
    too_many = [{"author": "Ann", "text": "x"}] * 21
    response = post(desk, body(bed, context=too_many, invitation_timeout_seconds=5))
    assert response.status_code == 422
    paths = {e["path"] for e in response.json()["errors"]}
    assert paths == {"context", "invitation_timeout_seconds"}
