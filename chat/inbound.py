"""Messages from Teams: what an expert types in a conference's chat, read once, in order.

Messages arrive through the chat-message subscription (chat/webhook.py hands the
verified items to the worker) and, after a ``missed`` lifecycle event, by reading
the chats back (:func:`conferences_catch_up`). Either way each Teams message is
recorded once per conference (a unique constraint), so a message notified twice,
or notified and read back, reaches the contact center once.

Only the expert's own messages in the conference's chat count: not the chat
service account's, not system events (docs/graph.md, "Chat"), not what was said
in that chat before the invitation.
"""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from chat.media import media_link
from chat.models import Conference, ConferenceMessage
from chat.transcript import conference_locked, event_emit, line_add
from chat.words import Reply, Words, party_text, reply_kind
from graph.chat import ChatMessage, chat_messages
from graph.errors import GraphError
from integrations.graphlink import app_graph_client, token_cache_save
from integrations.services import account_get

logger = logging.getLogger(__name__)


def _live_conference(chat_id: str) -> Conference | None:
    return (
        Conference.objects.filter(teams_chat_id=chat_id, state__in=Conference.LIVE_STATES)
        .order_by("-invited_at")
        .first()
    )


def _counts_for(conference: Conference, message: ChatMessage) -> bool:
    if not message.is_from_person or message.deleted:
        return False
    if message.sender_id.lower() != conference.expert_graph_id.lower():
        return False  # the chat service account's own lines, or anyone else
    sent = conference.invitation_sent_at
    return sent is None or message.created is None or message.created >= sent


def message_apply(conference_id: int, message: ChatMessage, words: Words) -> str:
    """Apply one Teams message to a conference; returns what it came to ("duplicate",
    "ignored", "joined", "declined", "left", "message", "not_live")."""
    with transaction.atomic():
        conference = conference_locked(conference_id)
        if not conference.live:
            return "not_live"
        if not _counts_for(conference, message):
            return "ignored"
        text = message.text
        try:
            with transaction.atomic():
                line = line_add(
                    conference,
                    direction=ConferenceMessage.Direction.FROM_EXPERT,
                    text=text,
                    author=conference.expert_name,
                    graph_message_id=message.id,
                    hosted_content_urls=message.hosted_content_urls,
                )
        except IntegrityError:
            conference.refresh_from_db(fields=["message_count"])
            return "duplicate"
        kind = reply_kind(text, words)
        now = timezone.now()
        if conference.state == Conference.State.INVITING:
            return _answer(conference, kind, words, now)
        if kind == Reply.LEAVE:
            conference.state, conference.ended_at = Conference.State.LEFT, now
            conference.save(update_fields=["state", "ended_at"])
            said = party_text(conference.expert_name, words.party_left)
            note = line_add(
                conference, direction=ConferenceMessage.Direction.SYSTEM, text=said, delivered=True
            )
            event_emit(conference, "party_left", text=said, line=note)
            return "left"
        images = [media_link(str(conference.public_id), url) for url in line.hosted_content_urls]
        event_emit(
            conference,
            "message",
            text=text,
            line=line,
            author=conference.expert_name,
            images=images,
            occurred_at=message.created,
        )
        return "message"


def _answer(conference: Conference, kind: Reply, words: Words, now) -> str:
    if kind == Reply.POSITIVE:
        conference.state, conference.answered_at = Conference.State.JOINED, now
        conference.save(update_fields=["state", "answered_at"])
        said = party_text(conference.expert_name, words.party_joined)
        note = line_add(
            conference, direction=ConferenceMessage.Direction.SYSTEM, text=said, delivered=True
        )
        event_emit(conference, "party_joined", text=said, line=note)
        return "joined"
    if kind == Reply.NEGATIVE:
        conference.state = Conference.State.DECLINED
        conference.answered_at = conference.ended_at = now
        conference.save(update_fields=["state", "answered_at", "ended_at"])
        note = line_add(
            conference,
            direction=ConferenceMessage.Direction.SYSTEM,
            text=f"{conference.expert_name} declined the invitation.",
            delivered=True,
        )
        event_emit(conference, "invitation_declined", line=note)
        return "declined"
    # Anything else before an answer is kept in the transcript but means nothing yet.
    return "ignored"


def _words() -> Words | None:
    account = account_get()
    return Words.of(account) if account else None


def notifications_apply(items: list[dict[str, Any]]) -> dict[str, int]:
    """Apply verified chat-message notifications: ``{"chat_id", "message_id",
    "message"}`` items, ``message`` being the decrypted chatMessage or None (then it is
    read from Graph with the app token). Items of one POST are applied oldest first.
    Returns counts by outcome."""
    counts: Counter[str] = Counter()
    words = _words()
    if words is None:
        return {"no_account": len(items)}
    fetched: list[tuple[int, ChatMessage]] = []
    client = tokens = None
    account = account_get()
    try:
        for item in items:
            conference = _live_conference(str(item.get("chat_id") or ""))
            if conference is None:
                counts["no_conference"] += 1
                continue
            body = item.get("message")
            if body is None:
                if client is None:
                    client, tokens = app_graph_client(account)
                path = f"/chats/{item['chat_id']}/messages/{item['message_id']}"
                try:
                    body = client.get(path) or {}
                except GraphError as exc:
                    logger.warning("could not read chat message %s: %s", path, exc)
                    counts["unreadable"] += 1
                    continue
            message = ChatMessage.from_graph({"chatId": item["chat_id"], **body})
            fetched.append((conference.pk, message))
    finally:
        if tokens is not None:
            token_cache_save(account, tokens)
    far_future = timezone.now().replace(year=9999)
    fetched.sort(key=lambda pair: (pair[1].created or far_future, pair[1].id))
    for conference_id, message in fetched:
        counts[message_apply(conference_id, message, words)] += 1
    return dict(counts)


def conference_catch_up(conference: Conference, client, words: Words) -> int:
    """Read the conference's chat back to the invitation and apply what was not
    recorded yet, oldest first. Returns how many were new."""
    sent = conference.invitation_sent_at
    if sent is None:
        return 0  # nothing was said to the expert yet, so nothing can be an answer
    known = set(
        conference.messages.exclude(graph_message_id="").values_list("graph_message_id", flat=True)
    )
    missed: list[ChatMessage] = []
    # Newest first, down to the invitation: a line recorded in between (a relayed
    # message) does not mean everything before it was.
    for message in chat_messages(client, conference.teams_chat_id):
        if message.created is not None and message.created < sent:
            break
        if message.id not in known:
            missed.append(message)
    applied = 0
    for message in reversed(missed):
        if message_apply(conference.pk, message, words) not in ("duplicate", "ignored", "not_live"):
            applied += 1
    return applied


def conferences_catch_up() -> int:
    """Read back every live conference's chat (after ``missed`` or a subscription that
    was gone for a while). Returns how many messages were applied."""
    account = account_get()
    words = _words()
    if account is None or words is None:
        return 0
    live = Conference.objects.filter(state__in=Conference.LIVE_STATES).exclude(teams_chat_id="")
    client, tokens = app_graph_client(account)
    applied = 0
    try:
        for conference in live:
            try:
                applied += conference_catch_up(conference, client, words)
            except GraphError as exc:
                logger.warning("could not read back the chat of %s: %s", conference, exc)
    finally:
        token_cache_save(account, tokens)
    return applied
