"""Conferences: invite a Teams expert into a customer chat, relay, end, expire.

The API calls :func:`conference_create`, :func:`conference_relay` and
:func:`conference_end`; they only write rows and queue work after commit. The
worker (chat/tasks.py) opens the one-on-one chat between the chat service account
and the expert and sends what the transcript holds for the expert, in order
(:func:`conference_send_pending`). Replies from Teams are read in chat/inbound.py.

Every writer of a conference locks its row first (chat/transcript.py), so states,
transcript lines and event numbers never interleave.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import Agent, DirectoryUser
from chat.models import Conference, ConferenceMessage
from chat.service_account import (
    ChatAccountError,
    chat_account_ready,
    chat_cache_save,
    chat_graph_client,
)
from chat.transcript import conference_locked, event_emit, line_add
from chat.words import INVITATION_LAPSED, Words, context_text
from graph.chat import one_on_one_chat, send_chat_message
from graph.errors import (
    AuthError,
    GraphError,
    InvalidRequest,
    InvalidToken,
    NotFound,
    PermissionDenied,
    Throttled,
    Unavailable,
)
from graph.presence import get_presence
from integrations.graphlink import app_graph_client, token_cache_save
from integrations.jobs import task_enqueue
from integrations.services import account_get

logger = logging.getLogger(__name__)

UNAVAILABLE = ("Offline", "DoNotDisturb")
TRANSIENT = (Throttled, Unavailable)
EXPERT_SELECT = "id,displayName,userPrincipalName"


class ConferenceError(Exception):
    """A conference request that cannot be done; the message is for the caller."""


class NotSetUp(ConferenceError):
    """No chat service account (or integration account) can act."""


class ExpertUnknown(ConferenceError):
    """No Teams user has that id or user principal name."""


class ExpertUnavailable(ConferenceError):
    """The expert is Offline or DoNotDisturb and the request did not insist."""


class ExpertBusy(ConferenceError):
    """The expert already has a live conference (their one-on-one chat is in use)."""


class NotJoined(ConferenceError):
    """Messages are relayed only while the expert is in the conference."""


@dataclass(frozen=True)
class ExpertPresenceNow:
    availability: str
    activity: str


def _words() -> Words:
    account = account_get()
    if account is None:
        raise NotSetUp("There is no Teams integration account; create it first.")
    return Words.of(account)


# --- starting ----------------------------------------------------------------------------


def _expert_find(reference: str) -> tuple[str, str, DirectoryUser | None]:
    """(graph id, display name, directory row) of the expert named by id or UPN.
    Asks Graph when the directory does not hold them. Raises ExpertUnknown."""
    reference = reference.strip()
    user = (
        DirectoryUser.objects.filter(removed_reason="")
        .filter(
            Q(graph_id__iexact=reference)
            | Q(user_principal_name__iexact=reference)
            | Q(mail__iexact=reference)
        )
        .first()
    )
    if user is not None:
        return user.graph_id, user.display_name or user.user_principal_name, user
    account = account_get()
    if account is None:
        raise NotSetUp("There is no Teams integration account; create it first.")
    client, tokens = app_graph_client(account)
    try:
        found = client.get(f"/users/{reference}", {"$select": EXPERT_SELECT}) or {}
    except (NotFound, InvalidRequest):
        raise ExpertUnknown(f"No Teams user has the id or user name {reference!r}.") from None
    finally:
        token_cache_save(account, tokens)
    name = str(found.get("displayName") or found.get("userPrincipalName") or reference)
    return str(found["id"]), name, None


def _presence_read(graph_id: str) -> ExpertPresenceNow | None:
    """The expert's presence now (app token), or None when Graph cannot say."""
    account = account_get()
    if account is None:
        return None
    client, tokens = app_graph_client(account)
    try:
        presence = get_presence(client, graph_id)
    except GraphError as exc:
        logger.warning("could not read the presence of expert %s: %s", graph_id, exc)
        return None
    finally:
        token_cache_save(account, tokens)
    return ExpertPresenceNow(presence.availability, presence.activity)


def conference_create(
    *,
    customer_chat_id: str,
    agent_external_id: str,
    expert: str,
    customer_name: str,
    context: list[dict[str, str]] | None = None,
    insist: bool = False,
    invitation_timeout_seconds: int | None = None,
) -> tuple[Conference, ExpertPresenceNow | None]:
    """Start inviting an expert into a customer chat; the invitation goes out from the
    worker right after commit. Returns the conference (state inviting) and the
    expert's presence as read now.

    Raises NotSetUp (no ready chat service account), ExpertUnknown, ExpertUnavailable
    (Offline or DoNotDisturb, unless ``insist``), ExpertBusy.
    """
    try:
        chat_account_ready()
    except ChatAccountError as exc:
        raise NotSetUp(str(exc)) from None
    graph_id, name, user = _expert_find(expert)
    presence = _presence_read(graph_id)
    if presence is not None and presence.availability in UNAVAILABLE and not insist:
        raise ExpertUnavailable(
            f"{name} is {presence.availability} in Teams; send insist: true to invite them anyway."
        )
    timeout = invitation_timeout_seconds or settings.CHAT_INVITATION_TIMEOUT_SECONDS
    try:
        with transaction.atomic():
            conference = Conference.objects.create(
                customer_chat_id=customer_chat_id,
                customer_name=customer_name,
                agent_external_id=agent_external_id,
                agent=Agent.objects.filter(external_id=agent_external_id).first(),
                expert=user,
                expert_graph_id=graph_id,
                expert_name=name,
                context_messages=list(context or []),
                insist=insist,
                invitation_expires_at=timezone.now() + timedelta(seconds=timeout),
            )
    except IntegrityError:
        raise ExpertBusy(
            f"{name} is already in a live conference; end it before inviting them again."
        ) from None
    _queue("chat.conference.invite", conference.pk)
    return conference, presence


def _queue(task_name: str, conference_id: int, **options: object) -> None:
    """Send a conference task by name once the transaction commits (services never
    import task modules: DESIGN §2)."""
    task_enqueue(task_name, args=(conference_id,), **options)


def conference_invite(conference_id: int) -> Conference:
    """Open (or reuse) the one-on-one chat of the chat service account and the expert,
    then send the context and the account's Invitation text. Schedules the expiry.

    Raises transient Graph errors for the task to retry; anything else fails the
    conference with its reason (:func:`conference_fail`)."""
    conference = Conference.objects.get(pk=conference_id)
    if conference.state != Conference.State.INVITING:
        return conference
    try:
        account = chat_account_ready()
        words = _words()
    except (ChatAccountError, NotSetUp) as exc:
        return conference_fail(conference_id, str(exc))
    if not conference.teams_chat_id:
        client, tokens = chat_graph_client(account)
        try:
            chat = one_on_one_chat(client, account.system_user.graph_id, conference.expert_graph_id)
        except TRANSIENT:
            raise
        except GraphError as exc:
            return conference_fail(conference_id, f"Could not open the Teams chat: {exc}")
        finally:
            chat_cache_save(account, tokens)
        conference.teams_chat_id = chat.id
        Conference.objects.filter(pk=conference_id).update(teams_chat_id=chat.id)
    with transaction.atomic():
        conference = conference_locked(conference_id)
        if conference.state == Conference.State.INVITING and conference.message_count == 0:
            if conference.context_messages:
                line_add(
                    conference,
                    direction=ConferenceMessage.Direction.TO_EXPERT,
                    text=context_text(conference.context_messages),
                    author=conference.customer_name,
                )
            line_add(
                conference, direction=ConferenceMessage.Direction.TO_EXPERT, text=words.invitation
            )
    conference_send_pending(conference_id)
    conference.refresh_from_db()
    if conference.state == Conference.State.INVITING:
        _queue("chat.conference.expire", conference_id, eta=conference.invitation_expires_at)
    return conference


def _send_failure_text(exc: GraphError) -> str:
    if isinstance(exc, InvalidToken | AuthError | PermissionDenied):
        return (
            f"Microsoft Graph refused to send the chat message ({exc}). Graph sends chat "
            "messages only for a signed-in user: check that the chat service account signs in "
            "and its token holds the delegated permission ChatMessage.Send or Chat.ReadWrite "
            "(application permissions cannot send chat messages)."
        )
    return f"Microsoft Graph refused to send the chat message: {exc}"


def conference_send_pending(conference_id: int) -> int:
    """Send the transcript lines not yet in Teams to the expert, oldest first, as the
    chat service account; returns how many were sent. Holds the conference's lock
    meanwhile, so two workers never send out of order.

    Raises transient Graph errors (what was sent stays sent); anything else fails
    the conference (except after it ended: the goodbye is best effort)."""
    account = chat_account_ready()
    client, tokens = chat_graph_client(account)
    sent, error, retry = 0, "", None
    try:
        with transaction.atomic():
            conference = conference_locked(conference_id)
            pending = conference.messages.filter(
                direction=ConferenceMessage.Direction.TO_EXPERT, delivered=False
            ).order_by("sequence")
            for line in pending:
                try:
                    message = send_chat_message(client, conference.teams_chat_id, line.text)
                except TRANSIENT as exc:
                    retry = exc  # raised after commit: what was sent must stay recorded
                    break
                except GraphError as exc:
                    error = _send_failure_text(exc)
                    break
                line.graph_message_id, line.delivered = message.id, True
                line.save(update_fields=["graph_message_id", "delivered"])
                if conference.invitation_sent_at is None:
                    conference.invitation_sent_at = message.created or timezone.now()
                    conference.save(update_fields=["invitation_sent_at"])
                sent += 1
    finally:
        chat_cache_save(account, tokens)
    if retry is not None:
        raise retry
    if error:
        conference_fail(conference_id, error)
    return sent


def conference_fail(conference_id: int, reason: str) -> Conference:
    """Record why a live conference cannot go on: state failed, the reason kept, and a
    ``conference_failed`` event for the contact center. A conference that already
    ended keeps its state and gets the reason in ``error``."""
    logger.warning("conference %s failed: %s", conference_id, reason)
    with transaction.atomic():
        conference = conference_locked(conference_id)
        conference.error = reason[:2000]
        if not conference.live:
            conference.save(update_fields=["error"])
            return conference
        conference.state = Conference.State.FAILED
        conference.ended_at = timezone.now()
        conference.save(update_fields=["error", "state", "ended_at"])
        line = line_add(
            conference, direction=ConferenceMessage.Direction.SYSTEM, text=reason, delivered=True
        )
        event_emit(conference, "conference_failed", text=reason, line=line)
    return conference


# --- while it runs -----------------------------------------------------------------------


def conference_relay(
    conference: Conference, *, author_role: str, author_name: str, text: str
) -> ConferenceMessage:
    """Queue a customer's or agent's message for the expert, prefixed with who said it.
    Raises NotJoined unless the expert is in the conference."""
    from chat.words import said_by

    with transaction.atomic():
        conference = conference_locked(conference.pk)
        if conference.state != Conference.State.JOINED:
            raise NotJoined(
                f"The conference is {conference.get_state_display().lower()}; messages reach "
                "the expert only after they joined."
            )
        line = line_add(
            conference,
            direction=ConferenceMessage.Direction.TO_EXPERT,
            text=said_by(author_name, text),
            author=f"{author_role}:{author_name}"[:256],
        )
        _queue("chat.conference.send", conference.pk)
    return line


def conference_end(conference: Conference) -> Conference:
    """The contact center ended the customer chat: state ended, and the expert gets the
    account's Session ended text. Ending an ended conference changes nothing."""
    words = _words()
    with transaction.atomic():
        conference = conference_locked(conference.pk)
        if not conference.live:
            return conference
        conference.state = Conference.State.ENDED
        conference.ended_at = timezone.now()
        conference.save(update_fields=["state", "ended_at"])
        line_add(
            conference, direction=ConferenceMessage.Direction.TO_EXPERT, text=words.session_ended
        )
        if conference.teams_chat_id:
            _queue("chat.conference.send", conference.pk)
    return conference


def conference_expire(conference_id: int) -> Conference:
    """An invitation nobody answered in time lapses: state expired, the expert is told,
    and the contact center gets ``invitation_expired``. Early or late calls are harmless."""
    with transaction.atomic():
        conference = conference_locked(conference_id)
        if (
            conference.state != Conference.State.INVITING
            or conference.invitation_expires_at > timezone.now()
        ):
            return conference
        conference.state = Conference.State.EXPIRED
        conference.ended_at = timezone.now()
        conference.save(update_fields=["state", "ended_at"])
        line = line_add(
            conference,
            direction=ConferenceMessage.Direction.SYSTEM,
            text=f"{conference.expert_name} did not answer in time.",
            delivered=True,
        )
        event_emit(conference, "invitation_expired", line=line)
        if conference.teams_chat_id:
            line_add(
                conference, direction=ConferenceMessage.Direction.TO_EXPERT, text=INVITATION_LAPSED
            )
            _queue("chat.conference.send", conference.pk)
    return conference


def invitations_expire_due() -> int:
    """Lapse every invitation past its time (the safety net behind each timer task)."""
    due = Conference.objects.filter(
        state=Conference.State.INVITING, invitation_expires_at__lte=timezone.now()
    ).values_list("pk", flat=True)
    expired = 0
    for pk in list(due):
        if conference_expire(pk).state == Conference.State.EXPIRED:
            expired += 1
    return expired
