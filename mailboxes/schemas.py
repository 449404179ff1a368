"""The JSON shapes of the mail API."""

import base64
import binascii
from typing import Annotated

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from ninja import Field, Schema
from pydantic import AfterValidator, StringConstraints, model_validator


def _address(value: str) -> str:
    try:
        validate_email(value)
    except DjangoValidationError:
        raise ValueError(f"{value!r} is not an email address") from None
    return value


def _base64(value: str) -> str:
    try:
        base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("not base64") from None
    return value


Address = Annotated[str, StringConstraints(min_length=3, max_length=254), AfterValidator(_address)]


class AttachmentIn(Schema):
    name: Annotated[str, StringConstraints(min_length=1, max_length=255)]
    content_type: Annotated[str, StringConstraints(min_length=3, max_length=255)] = (
        "application/octet-stream"
    )
    content_base64: Annotated[str, AfterValidator(_base64)] = Field(
        description="The file's bytes, base64-encoded."
    )

    def size(self) -> int:
        return len(base64.b64decode(self.content_base64))


class MailIn(Schema):
    to: list[Address] = Field(
        default_factory=list, max_length=100, description="Recipients (not needed for a reply)."
    )
    cc: list[Address] = Field(default_factory=list, max_length=100)
    subject: Annotated[str, StringConstraints(max_length=255)] = ""
    body_text: Annotated[str, StringConstraints(max_length=200_000)] | None = None
    body_html: Annotated[str, StringConstraints(max_length=200_000)] | None = None
    reply_to: Annotated[str, StringConstraints(min_length=3, max_length=500)] | None = Field(
        None,
        description="The internetMessageId of a received message (from email_received) to "
        "reply to: the reply goes to its sender, in its conversation.",
    )
    attachments: list[AttachmentIn] = Field(default_factory=list, max_length=20)

    @model_validator(mode="after")
    def _one_body_and_someone(self):
        if (self.body_text is None) == (self.body_html is None):
            raise ValueError("give exactly one of body_text and body_html")
        if not self.reply_to and not (self.to or self.cc):
            raise ValueError("a new message needs at least one recipient in to or cc")
        return self


class MailQueuedOut(Schema):
    message_id: str = Field(description="Names the outcome: email_sent or email_failed.")
    state: str
