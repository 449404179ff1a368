"""The contact-center API for the expert directory and conferences (mounted in config/api.py)."""

import uuid

from django.http import Http404, HttpRequest
from ninja import Query, Router, Status
from ninja.errors import HttpError, ValidationError

from chat import services
from chat.directory import DirectoryPage, directory_page
from chat.models import Conference
from chat.schemas import (
    ConferenceCreatedOut,
    ConferenceIn,
    ConferenceOut,
    ConferenceStateOut,
    DirectoryFilters,
    DirectoryPageOut,
    RelayIn,
    RelayOut,
)
from chat.transcript import conference_transcript
from integrations.apikeys import api_key_auth
from integrations.models import ApiKey

router = Router()

DIRECTORY_READ = api_key_auth(ApiKey.Scope.DIRECTORY_READ)
CHAT_WRITE = api_key_auth(ApiKey.Scope.CHAT_WRITE)
TAG = "Expert conferences"


def _page_out(page: DirectoryPage) -> dict:
    experts = []
    for expert in page.experts:
        user, reading = expert.user, expert.presence
        experts.append(
            {
                "id": user.graph_id,
                "display_name": user.display_name,
                "mail": user.mail,
                "user_principal_name": user.user_principal_name,
                "job_title": user.job_title,
                "department": user.department,
                "presence": None
                if reading is None
                else {
                    "availability": reading.availability,
                    "activity": reading.activity,
                    "as_of": reading.read_at,
                    "stale": reading.stale,
                },
                "phones": [{"type": kind, "number": number} for kind, number in expert.phones],
            }
        )
    return {
        "count": page.count,
        "page": page.page,
        "page_size": page.page_size,
        "pages": page.pages,
        "presence_error": page.presence_error,
        "experts": experts,
    }


@router.get(
    "/directory",
    auth=DIRECTORY_READ,
    response=DirectoryPageOut,
    tags=["Expert directory"],
    summary="Find Teams experts, with presence and phone numbers",
)
def directory_search(request: HttpRequest, filters: Query[DirectoryFilters]):
    """Current Teams users matching `q`, ordered by name, a page at a time. Presence is
    read from Microsoft Graph when the stored reading is older than 30 seconds; phone
    numbers follow the account's Directory options (only the shown types, in order)."""
    page = directory_page(q=filters.q, page=filters.page, page_size=filters.page_size)
    return _page_out(page)


# --- conferences ---------------------------------------------------------------------------


def _conference(conference_id: uuid.UUID) -> Conference:
    conference = Conference.objects.filter(public_id=conference_id).first()
    if conference is None:
        raise Http404
    return conference


def _expert_out(conference: Conference, presence=None) -> dict:
    return {
        "id": conference.expert_graph_id,
        "display_name": conference.expert_name,
        "presence": None
        if presence is None
        else {"availability": presence.availability, "activity": presence.activity},
    }


def _conference_out(conference: Conference) -> dict:
    return {
        "id": str(conference.public_id),
        "state": conference.state,
        "customer_chat_id": conference.customer_chat_id,
        "customer_name": conference.customer_name,
        "agent": conference.agent_external_id,
        "expert": _expert_out(conference),
        "invited_at": conference.invited_at,
        "invitation_expires_at": conference.invitation_expires_at,
        "answered_at": conference.answered_at,
        "ended_at": conference.ended_at,
        "error": conference.error,
        "transcript": [
            {
                "sequence": line.sequence,
                "direction": line.direction,
                "author": line.author,
                "text": line.text,
                "event": line.event,
                "event_sequence": line.event_sequence,
                "at": line.created_at,
            }
            for line in conference_transcript(conference)
        ],
    }


@router.post(
    "/chat-conferences",
    auth=CHAT_WRITE,
    response={202: ConferenceCreatedOut},
    tags=[TAG],
    summary="Conference a Teams expert into a customer chat",
)
def conference_create(request: HttpRequest, payload: ConferenceIn):
    """Answers at once with the conference id and the expert's presence; the invitation
    (the account's *Invitation to join* text, after the context messages) reaches the
    expert in Teams within seconds. The expert's answer arrives on the ACD webhook as
    `party_joined`, `invitation_declined` or, after the timeout, `invitation_expired`.
    An expert who is Offline or DoNotDisturb is refused (409) unless `insist` is true;
    an expert already in a live conference is refused (409)."""
    try:
        conference, presence = services.conference_create(
            customer_chat_id=payload.customer_chat_id,
            agent_external_id=payload.agent,
            expert=payload.expert,
            customer_name=payload.customer_name,
            context=[line.model_dump() for line in payload.context],
            insist=payload.insist,
            invitation_timeout_seconds=payload.invitation_timeout_seconds,
        )
    except services.ExpertUnknown as exc:
        raise ValidationError([{"loc": ("body", "payload", "expert"), "msg": str(exc)}]) from None
    except services.ConferenceError as exc:
        raise HttpError(409, str(exc)) from None
    return Status(
        202,
        {
            "id": str(conference.public_id),
            "state": conference.state,
            "expert": _expert_out(conference, presence),
        },
    )


@router.get(
    "/chat-conferences/{conference_id}",
    auth=CHAT_WRITE,
    response=ConferenceOut,
    tags=[TAG],
    summary="A conference's state and transcript",
)
def conference_detail(request: HttpRequest, conference_id: uuid.UUID):
    """The conference's state, times, error (when it failed) and every line of its
    transcript in order, with the event each line became."""
    return _conference_out(_conference(conference_id))


@router.post(
    "/chat-conferences/{conference_id}/messages",
    auth=CHAT_WRITE,
    response={202: RelayOut},
    tags=[TAG],
    summary="Relay a customer's or agent's message to the expert",
)
def conference_message(request: HttpRequest, conference_id: uuid.UUID, payload: RelayIn):
    """The expert reads it in Teams as `<author_name>: <text>`, in the order sent.
    Only while the expert is in the conference (state joined); otherwise 409."""
    conference = _conference(conference_id)
    try:
        line = services.conference_relay(
            conference,
            author_role=payload.author_role,
            author_name=payload.author_name,
            text=payload.text,
        )
    except services.NotJoined as exc:
        raise HttpError(409, str(exc)) from None
    return Status(202, {"sequence": line.sequence, "state": Conference.State.JOINED})


def _end(conference_id: uuid.UUID):
    conference = services.conference_end(_conference(conference_id))
    return Status(202, {"id": str(conference.public_id), "state": conference.state})


@router.delete(
    "/chat-conferences/{conference_id}",
    auth=CHAT_WRITE,
    response={202: ConferenceStateOut},
    tags=[TAG],
    summary="End a conference",
)
def conference_delete(request: HttpRequest, conference_id: uuid.UUID):
    """The customer chat ended: the expert receives the account's *Session ended* text.
    Ending an ended conference changes nothing."""
    return _end(conference_id)


@router.post(
    "/chat-conferences/{conference_id}/end",
    auth=CHAT_WRITE,
    response={202: ConferenceStateOut},
    tags=[TAG],
    summary="End a conference (for clients that cannot send DELETE)",
)
def conference_end(request: HttpRequest, conference_id: uuid.UUID):
    """The same as DELETE /chat-conferences/{id}."""
    return _end(conference_id)
