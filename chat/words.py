"""What a conference says and how an expert's reply is read: plain text, no ORM.

Every word comes from the integration account's chat system messages (DESIGN §3),
handed in as a ``Words`` read at the moment they are needed, so an edit on the
account page applies to the next message sent or read.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

INVITATION_LAPSED = "The invitation has lapsed."


class Reply(StrEnum):
    POSITIVE = "positive"
    NEGATIVE = "negative"
    LEAVE = "leave"
    OTHER = "other"


@dataclass(frozen=True)
class Words:
    party_joined: str
    party_left: str
    invitation: str
    positive: str
    negative: str
    session_ended: str
    leave: str

    @classmethod
    def of(cls, account: Any) -> Words:
        """The words of an IntegrationAccount (its ``msg_*`` fields)."""
        return cls(
            party_joined=account.msg_party_joined,
            party_left=account.msg_party_left,
            invitation=account.msg_invitation,
            positive=account.msg_positive_response,
            negative=account.msg_negative_response,
            session_ended=account.msg_session_ended,
            leave=account.msg_leave_command,
        )


def _same(text: str, word: str) -> bool:
    return bool(word.strip()) and text.strip().casefold() == word.strip().casefold()


def reply_kind(text: str, words: Words) -> Reply:
    """What an expert's message means: the positive or negative response or the leave
    command (trimmed, case-insensitive), or anything else."""
    if _same(text, words.positive):
        return Reply.POSITIVE
    if _same(text, words.negative):
        return Reply.NEGATIVE
    if _same(text, words.leave):
        return Reply.LEAVE
    return Reply.OTHER


def said_by(author: str, text: str) -> str:
    """A customer's or agent's message as the expert reads it: ``"<author>: <text>"``."""
    author = " ".join(author.split())
    return f"{author}: {text}" if author else text


def context_text(lines: list[dict[str, str]]) -> str:
    """The customer messages shown before the invitation, one ``author: text`` a line."""
    return "\n".join(said_by(line.get("author", ""), line.get("text", "")) for line in lines)


def party_text(expert_name: str, phrase: str) -> str:
    """``"<expert> joined the session"`` and the like."""
    return f"{expert_name} {phrase}".strip()
