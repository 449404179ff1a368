"""Factories for conferences and their transcript lines (for the console's Chats screen).

Lines go through ``chat.transcript.line_add``, so they are numbered the way a running
conference numbers them."""

import uuid
from datetime import timedelta

import factory
from django.utils import timezone

from chat.models import Conference, ConferenceMessage
from chat.transcript import line_add
from tests.accounts.factories import AgentFactory

Direction = ConferenceMessage.Direction


class ConferenceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Conference

    customer_chat_id = factory.Sequence(lambda n: f"cc-chat-{n}")
    customer_name = factory.Sequence(lambda n: f"Customer {n}")
    agent = factory.SubFactory(AgentFactory)
    agent_external_id = factory.LazyAttribute(lambda conference: conference.agent.external_id)
    # One live conference per expert is a database rule: each gets its own expert.
    expert_graph_id = factory.LazyFunction(lambda: str(uuid.uuid4()))
    expert_name = factory.Sequence(lambda n: f"Expert {n}")
    teams_chat_id = factory.LazyFunction(lambda: f"19:{uuid.uuid4().hex}@unq.gbl.spaces")
    state = Conference.State.JOINED
    invitation_expires_at = factory.LazyFunction(lambda: timezone.now() + timedelta(minutes=2))


def lines_add(conference: Conference, *lines: tuple[str, str, str]) -> None:
    """Append (direction, author, text) lines to the conference's transcript, in order."""
    for direction, author, text in lines:
        line_add(conference, direction=direction, author=author, text=text)
