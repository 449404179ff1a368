"""Typed directory calls: users (one, delta) and the app's own secrets."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from graph.client import DeltaPage, GraphClient

# The user properties the console shows and matches on (docs/graph.md, "Directory").
USER_SELECT = (
    "id",
    "displayName",
    "mail",
    "userPrincipalName",
    "otherMails",
    "proxyAddresses",
    "businessPhones",
    "mobilePhone",
    "faxNumber",
    "accountEnabled",
    "jobTitle",
    "department",
)


def parse_graph_datetime(value: Any) -> datetime | None:
    """An aware UTC datetime from Graph's ISO-8601 text (``Z`` or offset, any
    number of fractional digits); None when empty or unreadable."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _strings(value: Any) -> tuple[str, ...]:
    return tuple(str(v) for v in value or () if v is not None)


@dataclass(frozen=True)
class DirectoryUserRecord:
    """A Teams/Entra user as the console stores it. ``removed_reason`` is set
    (``"changed"`` = soft-deleted, ``"deleted"`` = gone) for a delta's
    ``@removed`` item, whose other fields are empty."""

    id: str
    display_name: str = ""
    mail: str | None = None
    user_principal_name: str = ""
    other_mails: tuple[str, ...] = field(default=())
    proxy_addresses: tuple[str, ...] = field(default=())
    business_phones: tuple[str, ...] = field(default=())
    mobile_phone: str | None = None
    fax_number: str | None = None
    account_enabled: bool | None = None
    job_title: str | None = None
    department: str | None = None
    removed_reason: str | None = None

    @classmethod
    def from_graph(cls, item: dict[str, Any]) -> DirectoryUserRecord:
        """Read a Graph user (or a delta ``@removed`` stub). Missing properties
        (not selected, or not sent by delta for unchanged values) stay empty."""
        removed = item.get("@removed")
        reason = str(removed.get("reason") or "deleted") if isinstance(removed, dict) else None
        enabled = item.get("accountEnabled")
        return cls(
            id=str(item["id"]),
            display_name=str(item.get("displayName") or ""),
            mail=item.get("mail"),
            user_principal_name=str(item.get("userPrincipalName") or ""),
            other_mails=_strings(item.get("otherMails")),
            proxy_addresses=_strings(item.get("proxyAddresses")),
            business_phones=_strings(item.get("businessPhones")),
            mobile_phone=item.get("mobilePhone"),
            fax_number=item.get("faxNumber"),
            account_enabled=enabled if isinstance(enabled, bool) else None,
            job_title=item.get("jobTitle"),
            department=item.get("department"),
            removed_reason=reason,
        )


@dataclass(frozen=True)
class PasswordCredential:
    """One client secret of an app registration (never its value: Graph only
    shows a ``hint``, its first characters)."""

    key_id: str
    display_name: str | None
    hint: str | None
    start: datetime | None
    end: datetime | None

    @classmethod
    def from_graph(cls, item: dict[str, Any]) -> PasswordCredential:
        return cls(
            key_id=str(item.get("keyId") or ""),
            display_name=item.get("displayName"),
            hint=item.get("hint"),
            start=parse_graph_datetime(item.get("startDateTime")),
            end=parse_graph_datetime(item.get("endDateTime")),
        )


def read_one_user(client: GraphClient) -> DirectoryUserRecord | None:
    """Read one user (``GET /users?$top=1&$select=id,displayName``): the cheapest
    proof that the token can read the directory. None for an empty directory.
    Raises the client's errors (PermissionDenied without User.Read.All)."""
    body = client.get("/users", {"$top": "1", "$select": "id,displayName"}) or {}
    users = body.get("value") or []
    return DirectoryUserRecord.from_graph(users[0]) if users else None


def list_users(client: GraphClient, page_size: int = 999) -> Iterator[list[DirectoryUserRecord]]:
    """Page through every user with :data:`USER_SELECT` (``$top`` ≤ 999).
    Raises the client's errors."""
    params = {"$select": ",".join(USER_SELECT), "$top": str(page_size)}
    for page in client.iter_pages("/users", params):
        yield [DirectoryUserRecord.from_graph(item) for item in page]


def users_delta(
    client: GraphClient, delta_link: str | None = None, *, page_size: int | None = None
) -> Iterator[DeltaPage]:
    """Run a users delta round: from scratch (``/users/delta?$select=…``) or from
    a stored deltaLink/nextLink. Items are Graph dicts (read them with
    :meth:`DirectoryUserRecord.from_graph`); persist each page, then its
    ``next_link``/``delta_link``, to resume exactly there. Raises the client's errors."""
    if delta_link:
        return client.delta(delta_link, page_size=page_size)
    params = {"$select": ",".join(USER_SELECT)}
    return client.delta("/users/delta", params, page_size=page_size)


def password_credentials(client: GraphClient, object_id: str) -> list[PasswordCredential]:
    """The app registration's client secrets with their start/end dates
    (``GET /applications/{object-id}?$select=passwordCredentials``; needs
    Application.Read.All). Raises NotFound for a wrong object ID, PermissionDenied."""
    path = f"/applications/{quote(object_id.strip(), safe='')}"
    body = client.get(path, {"$select": "passwordCredentials"}) or {}
    return [PasswordCredential.from_graph(c) for c in body.get("passwordCredentials") or []]
