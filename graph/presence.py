"""Presence: read many users at once, set and clear the app's presence session.

docs/graph.md, "Presence": values are PascalCase on the wire; getPresencesByUserId
takes at most 650 ids; setPresence only accepts five availability/activity
pairs and an expiration between PT5M and PT4H.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import quote

from graph.client import GraphClient
from graph.errors import InvalidRequest

AVAILABILITIES = (
    "Available",
    "AvailableIdle",
    "Away",
    "BeRightBack",
    "Busy",
    "BusyIdle",
    "DoNotDisturb",
    "Offline",
    "PresenceUnknown",
)
ACTIVITIES = (
    "Available",
    "Away",
    "BeRightBack",
    "Busy",
    "DoNotDisturb",
    "InACall",
    "InAConferenceCall",
    "Inactive",
    "InAMeeting",
    "Offline",
    "OffWork",
    "OutOfOffice",
    "PresenceUnknown",
    "Presenting",
    "UrgentInterruptionsOnly",
)
# What setPresence accepts (an application's session).
SETTABLE_PAIRS = (
    ("Available", "Available"),
    ("Busy", "InACall"),
    ("Busy", "InAConferenceCall"),
    ("Away", "Away"),
    ("DoNotDisturb", "Presenting"),
)
# What setUserPreferredPresence accepts (the state a user picks by hand).
PREFERRED_PAIRS = (
    ("Available", "Available"),
    ("Busy", "Busy"),
    ("DoNotDisturb", "DoNotDisturb"),
    ("BeRightBack", "BeRightBack"),
    ("Away", "Away"),
    ("Offline", "OffWork"),
)
MAX_IDS_PER_CALL = 650
MIN_EXPIRATION = timedelta(minutes=5)
MAX_EXPIRATION = timedelta(hours=4)


class InvalidPresence(InvalidRequest, ValueError):
    """A presence request Graph would refuse, caught before any HTTP call."""


@dataclass(frozen=True)
class Presence:
    """A user's aggregated Teams presence."""

    user_id: str
    availability: str
    activity: str
    sequence_number: str | None = None
    status_message: str | None = None

    @classmethod
    def from_graph(cls, item: dict[str, Any]) -> Presence:
        status = item.get("statusMessage")
        message = status.get("message") if isinstance(status, dict) else None
        content = message.get("content") if isinstance(message, dict) else None
        return cls(
            user_id=str(item["id"]),
            availability=str(item.get("availability") or "PresenceUnknown"),
            activity=str(item.get("activity") or "PresenceUnknown"),
            sequence_number=item.get("sequenceNumber"),
            status_message=str(content) if content else None,
        )


def format_duration(duration: timedelta) -> str:
    """ISO-8601 duration in whole seconds: ``PT5M``, ``PT1H30M``, ``PT4H``, ``PT90S``…"""
    total = int(duration.total_seconds())
    if total <= 0:
        return "PT0S"
    hours, rest = divmod(total, 3600)
    minutes, seconds = divmod(rest, 60)
    text = "PT" + (f"{hours}H" if hours else "") + (f"{minutes}M" if minutes else "")
    return text + (f"{seconds}S" if seconds else "")


def check_session_presence(availability: str, activity: str, expiration: timedelta) -> None:
    """Raise InvalidPresence unless setPresence accepts this pair and expiration."""
    if (availability, activity) not in SETTABLE_PAIRS:
        allowed = ", ".join(f"{a}/{b}" for a, b in SETTABLE_PAIRS)
        raise InvalidPresence(
            f"Graph cannot set {availability}/{activity} as an application's presence; "
            f"setPresence accepts only {allowed}.",
            code="UnsettablePresence",
        )
    if not MIN_EXPIRATION <= expiration <= MAX_EXPIRATION:
        raise InvalidPresence(
            f"The presence expiration must be between PT5M and PT4H, not "
            f"{format_duration(expiration)}.",
            code="InvalidExpiration",
        )


def _presence_path(user_id: str, action: str) -> str:
    return f"/users/{quote(user_id, safe='')}/presence/{action}"


def get_presences(client: GraphClient, ids: Iterable[str]) -> list[Presence]:
    """Presences of many users (``POST /communications/getPresencesByUserId``),
    650 ids per call, in Graph's order within each call. No call for no ids.
    Raises the client's errors (PermissionDenied without Presence.Read.All)."""
    unique = list(dict.fromkeys(ids))
    presences: list[Presence] = []
    for start in range(0, len(unique), MAX_IDS_PER_CALL):
        chunk = unique[start : start + MAX_IDS_PER_CALL]
        body = client.post("/communications/getPresencesByUserId", {"ids": chunk}) or {}
        presences.extend(Presence.from_graph(item) for item in body.get("value") or [])
    return presences


def get_presence(client: GraphClient, user_id: str) -> Presence:
    """One user's presence (``GET /users/{id}/presence``). Raises NotFound…"""
    body = client.get(f"/users/{quote(user_id, safe='')}/presence") or {}
    return Presence.from_graph(body)


def set_presence(
    client: GraphClient,
    user_id: str,
    *,
    session_id: str,
    availability: str,
    activity: str,
    expiration: timedelta = MIN_EXPIRATION,
) -> None:
    """Set the app's presence session for a user (``POST …/presence/setPresence``;
    ``session_id`` is the app's client ID). Validates first and raises
    InvalidPresence without any HTTP call; then the client's errors."""
    check_session_presence(availability, activity, expiration)
    client.post(
        _presence_path(user_id, "setPresence"),
        {
            "sessionId": session_id,
            "availability": availability,
            "activity": activity,
            "expirationDuration": format_duration(expiration),
        },
    )


def clear_presence(client: GraphClient, user_id: str, *, session_id: str) -> None:
    """End the app's presence session for a user (``…/clearPresence``). Raises
    NotFound when there is no such session, and the client's other errors."""
    client.post(_presence_path(user_id, "clearPresence"), {"sessionId": session_id})


def set_preferred_presence(
    client: GraphClient,
    user_id: str,
    *,
    availability: str,
    activity: str,
    expiration: timedelta | None = None,
) -> None:
    """Set the user's preferred presence (``…/setUserPreferredPresence``), which
    beats every session. Raises InvalidPresence for a pair Graph refuses."""
    if (availability, activity) not in PREFERRED_PAIRS:
        raise InvalidPresence(
            f"Graph cannot set {availability}/{activity} as a preferred presence.",
            code="UnsettablePresence",
        )
    body: dict[str, Any] = {"availability": availability, "activity": activity}
    if expiration is not None:
        body["expirationDuration"] = format_duration(expiration)
    client.post(_presence_path(user_id, "setUserPreferredPresence"), body)


def clear_preferred_presence(client: GraphClient, user_id: str) -> None:
    """Remove the user's preferred presence (``…/clearUserPreferredPresence``)."""
    client.post(_presence_path(user_id, "clearUserPreferredPresence"), {})
