"""What the contact-center API accepts and returns for the expert directory and chat."""

from datetime import datetime
from typing import Annotated, Literal

from ninja import Field, Schema
from pydantic import AfterValidator, StringConstraints
from pydantic_core import PydanticCustomError


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise PydanticCustomError("nul", "Text may not contain NUL (\\u0000) characters.")
    return value


class DirectoryFilters(Schema):
    q: Annotated[str, StringConstraints(max_length=200), AfterValidator(_no_nul)] = Field(
        "",
        description="Words that must each appear in the name, mail, UPN, job title or "
        "department (case-insensitive). Empty: everyone.",
    )
    page: int = Field(1, ge=1)
    page_size: int = Field(25, ge=1, le=100)


class PhoneOut(Schema):
    type: str = Field(description="business, mobile or fax")
    number: str


class PresenceOut(Schema):
    availability: str = Field(description="Graph's availability, e.g. Available, Busy, Away.")
    activity: str = Field(description="Graph's activity, e.g. InACall, Presenting.")
    as_of: datetime = Field(description="When ccbridge read it from Microsoft Graph.")
    stale: bool = Field(description="True when the last read is older than 30 seconds.")


class ExpertOut(Schema):
    id: str = Field(description="The Teams (Entra ID) user id.")
    display_name: str
    mail: str
    user_principal_name: str
    job_title: str
    department: str
    presence: PresenceOut | None = Field(description="Null when it was never read.")
    phones: list[PhoneOut] = Field(
        description="Numbers of the phone types the account shows, in the account's order."
    )


class DirectoryPageOut(Schema):
    count: int = Field(description="Experts matching q, on all pages.")
    page: int
    page_size: int
    pages: int
    presence_error: str = Field(
        description="Why presence could not be refreshed from Graph (empty when it was)."
    )
    experts: list[ExpertOut]


# --- conferences ---------------------------------------------------------------------------

ShortText = Annotated[str, StringConstraints(min_length=1, max_length=200), AfterValidator(_no_nul)]
MessageText = Annotated[
    str, StringConstraints(min_length=1, max_length=4000), AfterValidator(_no_nul)
]


class ContextMessageIn(Schema):
    author: Annotated[str, StringConstraints(max_length=200), AfterValidator(_no_nul)] = ""
    text: MessageText


class ConferenceIn(Schema):
    customer_chat_id: ShortText = Field(description="The customer chat's id in the contact center.")
    agent: ShortText = Field(description="The agent's external id (as sent with PUT /agents).")
    expert: Annotated[
        str, StringConstraints(min_length=1, max_length=320), AfterValidator(_no_nul)
    ] = Field(description="The expert's Teams user id or user principal name.")
    customer_name: ShortText = Field(description="The customer's display name.")
    context: list[ContextMessageIn] = Field(
        default_factory=list,
        max_length=20,
        description="The last few messages of the customer chat, shown to the expert before "
        "the invitation (at most 20).",
    )
    insist: bool = Field(
        False, description="Invite even when the expert is Offline or DoNotDisturb in Teams."
    )
    invitation_timeout_seconds: int | None = Field(
        None,
        ge=15,
        le=900,
        description="How long the expert has to answer (default: the server's "
        "CHAT_INVITATION_TIMEOUT_SECONDS, 120).",
    )


class ExpertPresenceOut(Schema):
    availability: str
    activity: str


class ConferenceExpertOut(Schema):
    id: str = Field(description="The Teams (Entra ID) user id.")
    display_name: str
    presence: ExpertPresenceOut | None = Field(
        None, description="As Microsoft Graph reported it when asked (null: it could not say)."
    )


class ConferenceCreatedOut(Schema):
    id: str = Field(description="The conference id, for the other calls and in every event.")
    state: str
    expert: ConferenceExpertOut


class ConferenceStateOut(Schema):
    id: str
    state: str


class TranscriptLineOut(Schema):
    sequence: int
    direction: str = Field(description="to_expert, from_expert or system")
    author: str
    text: str
    event: str = Field(description="The event this line became for the contact center, if any.")
    event_sequence: int | None
    at: datetime


class ConferenceOut(Schema):
    id: str
    state: str = Field(description="inviting, joined, declined, expired, left, ended or failed")
    customer_chat_id: str
    customer_name: str
    agent: str
    expert: ConferenceExpertOut
    invited_at: datetime
    invitation_expires_at: datetime
    answered_at: datetime | None
    ended_at: datetime | None
    error: str
    transcript: list[TranscriptLineOut]


class RelayIn(Schema):
    author_role: Literal["customer", "agent"]
    author_name: ShortText
    text: MessageText


class RelayOut(Schema):
    sequence: int = Field(description="The message's place in the conference transcript.")
    state: str
