"""The simulator's mailboxes: one per directory user, created when first opened.

Each tenant's mail lives in a ``TenantMail`` held by the ``MailState`` service;
callers hold the tenant's lock while they read or change it. Every change to a
message advances its mailbox's ``version``, which delta queries page by; a message
that leaves a folder leaves a tombstone there so delta can report it removed.
"""

from __future__ import annotations

import base64
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from graphsim.core.errors import utcnow
from graphsim.core.sim import Service, Sim
from graphsim.core.state import Tenant, User

# Well-known folder name -> display name (Graph's wellKnownName values).
WELL_KNOWN = {
    "inbox": "Inbox",
    "sentitems": "Sent Items",
    "deleteditems": "Deleted Items",
    "drafts": "Drafts",
    "archive": "Archive",
    "junkemail": "Junk Email",
}


def opaque_id(prefix: str = "AAMkAG") -> str:
    """An id shaped like Exchange's: long, base64url, opaque."""
    return prefix + base64.urlsafe_b64encode(secrets.token_bytes(48)).decode().rstrip("=")


@dataclass
class Attachment:
    id: str
    name: str
    content_type: str
    data: bytes = field(repr=False)
    is_inline: bool = False


@dataclass
class Folder:
    id: str
    display_name: str
    well_known: str = ""


@dataclass
class MailMessage:
    """A message in one folder of one mailbox."""

    id: str
    folder_id: str
    internet_message_id: str
    conversation_id: str
    subject: str
    body_type: str  # "text" or "html"
    body: str
    sender: dict[str, str]
    to: list[dict[str, str]]
    cc: list[dict[str, str]]
    received: datetime
    sent: datetime
    version: int
    is_read: bool = False
    is_draft: bool = False
    attachments: list[Attachment] = field(default_factory=list)
    in_reply_to: str = ""


@dataclass
class Tombstone:
    id: str
    folder_id: str
    version: int


class Mailbox:
    """One user's mailbox: folders, messages by id, and the delta version counter."""

    def __init__(self, user_id: str) -> None:
        self.user_id = user_id
        self.folders: dict[str, Folder] = {}
        for name, display in WELL_KNOWN.items():
            folder = Folder(opaque_id("AAMkAGF"), display, name)
            self.folders[folder.id] = folder
        self.messages: dict[str, MailMessage] = {}
        self.tombstones: list[Tombstone] = []
        self.version = 0

    def next_version(self) -> int:
        self.version += 1
        return self.version

    def folder(self, ident: str) -> Folder | None:
        """A folder by id or well-known name (case-insensitive)."""
        found = self.folders.get(ident)
        if found is not None:
            return found
        lower = ident.lower()
        return next((f for f in self.folders.values() if f.well_known == lower), None)

    def well_known(self, name: str) -> Folder:
        folder = self.folder(name)
        assert folder is not None
        return folder

    def add_folder(self, display_name: str) -> Folder:
        folder = Folder(opaque_id("AAMkAGF"), display_name)
        self.folders[folder.id] = folder
        return folder

    def put(self, message: MailMessage) -> MailMessage:
        message.version = self.next_version()
        self.messages[message.id] = message
        return message

    def touch(self, message: MailMessage) -> None:
        message.version = self.next_version()

    def move(self, message: MailMessage, folder: Folder) -> MailMessage:
        """Move a message; like Exchange, the moved copy gets a new id."""
        self.remove(message)
        message.id = opaque_id()
        message.folder_id = folder.id
        return self.put(message)

    def remove(self, message: MailMessage) -> None:
        self.messages.pop(message.id, None)
        self.tombstones.append(Tombstone(message.id, message.folder_id, self.next_version()))

    def in_folder(self, folder_id: str) -> list[MailMessage]:
        """The folder's messages, newest received first (Graph's default order)."""
        found = [m for m in self.messages.values() if m.folder_id == folder_id]
        return sorted(found, key=lambda m: (m.received, m.version), reverse=True)


class TenantMail:
    """A tenant's mailboxes, its users without one, and its access policies."""

    def __init__(self) -> None:
        self.mailboxes: dict[str, Mailbox] = {}
        self.without_mailbox: set[str] = set()
        # client id -> user ids the app may open (an application access policy
        # with RestrictAccess); no entry = the app may open every mailbox.
        self.policies: dict[str, set[str]] = {}
        # Messages sent to addresses outside the tenant: what "the internet" received.
        self.outbound: list[dict[str, Any]] = []

    def mailbox(self, user_id: str) -> Mailbox:
        box = self.mailboxes.get(user_id)
        if box is None:
            box = self.mailboxes[user_id] = Mailbox(user_id)
        return box


class MailState(Service):
    """Every tenant's mail, by tenant id."""

    def __init__(self, sim: Sim) -> None:
        self._lock = threading.Lock()
        self._tenants: dict[str, TenantMail] = {}
        # Called for every message that lands in an inbox (mail subscriptions listen).
        self.listeners: list[Callable[[Sim, Tenant, Mailbox, MailMessage], None]] = []

    def arrived(self, sim: Sim, tenant: Tenant, box: Mailbox, message: MailMessage) -> None:
        """Tell the listeners that ``message`` reached ``box`` (caller holds the tenant lock)."""
        for listener in self.listeners:
            listener(sim, tenant, box, message)

    def of(self, tenant: Tenant) -> TenantMail:
        with self._lock:
            mail = self._tenants.get(tenant.id)
            if mail is None:
                mail = self._tenants[tenant.id] = TenantMail()
            return mail

    def forget(self, tenant_id: str) -> None:
        with self._lock:
            self._tenants.pop(tenant_id, None)


def mail_state(sim: Sim) -> MailState:
    return sim.service(MailState)


def find_recipient(tenant: Tenant, address: str) -> User | None:
    """The tenant's user an SMTP address reaches: by UPN, mail or a proxy address
    (caller holds the tenant lock)."""
    user = tenant.find_user(address)
    if user is not None:
        return user
    lower = address.strip().lower()
    for candidate in tenant.users.values():
        props = candidate.props
        if str(props.get("mail") or "").lower() == lower:
            return candidate
        proxies = [str(p).lower() for p in props.get("proxyAddresses") or []]
        if f"smtp:{lower}" in proxies:
            return candidate
    return None


def address_of(user: User) -> dict[str, str]:
    props = user.props
    return {
        "name": str(props.get("displayName") or ""),
        "address": str(props.get("mail") or user.upn),
    }


def new_internet_message_id(domain: str) -> str:
    return f"<{secrets.token_hex(16)}@{domain}>"


def now() -> datetime:
    return utcnow()
