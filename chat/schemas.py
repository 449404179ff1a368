"""What the contact-center API accepts and returns for the expert directory and chat."""

from datetime import datetime
from typing import Annotated

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
