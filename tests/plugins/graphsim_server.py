"""pytest plugin: a real graphsim HTTPS server for the whole test session.

Fixtures:

* ``graphsim`` (session): starts ``python -m graphsim serve --port 0 --seed none``
  as a subprocess and yields a :class:`GraphSimServer` (``authority_host``,
  ``graph_url``, ``base_url``, ``ca_path``, ``control``).
* ``sim_tenant`` (function): a fresh tenant (unique domain, 25 users, fixed seed)
  with an app consented to every permission ccbridge needs; faults are cleared
  and the tenant is deleted after the test.

Register with ``pytest_plugins = ["tests.plugins.graphsim_server"]``.
"""

from __future__ import annotations

import base64
import contextlib
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import requests

from graphsim.launch import launch

# What ccbridge asks for (docs/graph.md, "Permissions ccbridge uses").
CCBRIDGE_APPLICATION_PERMISSIONS = [
    "User.Read.All", "GroupMember.Read.All", "Group.Read.All", "User.ReadWrite.All",
    "Application.Read.All", "Presence.Read.All", "Presence.ReadWrite.All", "Chat.Read.All",
    "Chat.ReadWrite.All", "Mail.ReadWrite", "Mail.Send",
]  # fmt: skip
CCBRIDGE_DELEGATED_PERMISSIONS = [
    "Presence.Read.All",
    "ChatMessage.Send",
    "Chat.ReadWrite",
    "User.Read",
]
SIM_TENANT_SEED = 20250101
STARTUP_TIMEOUT = 60.0


class GraphSimControlError(RuntimeError):
    """A control API call failed; ``status`` is the HTTP status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status


def trusted_session(ca_path: str) -> requests.Session:
    """A requests session that trusts only the simulator's CA.

    ``trust_env=False`` because REQUESTS_CA_BUNDLE would override ``verify``.
    """
    session = requests.Session()
    session.trust_env = False
    session.verify = ca_path
    return session


class ControlClient:
    """A small client for graphsim's ``/_sim/`` control API."""

    def __init__(self, base_url: str, ca_path: str) -> None:
        self.base_url = base_url
        self.session = trusted_session(ca_path)

    def request(self, method: str, path: str, json: Any = None, params: Any = None) -> Any:
        """Call the control API; returns the JSON body (None when empty).

        Raises GraphSimControlError on an HTTP error.
        """
        response = self.session.request(
            method, f"{self.base_url}/_sim{path}", json=json, params=params, timeout=60
        )
        if response.status_code >= 400:
            raise GraphSimControlError(response.status_code, response.text)
        return response.json() if response.content else None

    def health(self) -> dict:
        return self.request("GET", "/health")

    def create_tenant(
        self, *, name: str | None = None, domain: str, users: int = 25, seed: Any = None
    ) -> dict:
        body = {"name": name or domain, "domain": domain, "users": users}
        if seed is not None:
            body["seed"] = seed
        return self.request("POST", "/tenants", json=body)

    def delete_tenant(self, tenant: str) -> None:
        self.request("DELETE", f"/tenants/{tenant}")

    def create_app(
        self,
        tenant: str,
        *,
        permissions: list[str] | None = None,
        delegated: list[str] | None = None,
        secret_expires_at: str | datetime | None = None,
        display_name: str = "ccbridge",
    ) -> dict:
        if isinstance(secret_expires_at, datetime):
            secret_expires_at = secret_expires_at.isoformat()
        body = {
            "permissions": permissions or [],
            "delegated": delegated or [],
            "secret_expires_at": secret_expires_at,
            "display_name": display_name,
        }
        return self.request("POST", f"/tenants/{tenant}/apps", json=body)

    def update_app(self, tenant: str, client_id: str, **fields: Any) -> dict:
        for key, value in list(fields.items()):
            if isinstance(value, datetime):
                fields[key] = value.isoformat()
        return self.request("PATCH", f"/tenants/{tenant}/apps/{client_id}", json=fields)

    def delete_app(self, tenant: str, client_id: str) -> None:
        self.request("DELETE", f"/tenants/{tenant}/apps/{client_id}")

    def add_secret(
        self, tenant: str, client_id: str, expires_at: str | None = None, replace: bool = False
    ) -> dict:
        body = {"expires_at": expires_at, "replace": replace}
        return self.request("POST", f"/tenants/{tenant}/apps/{client_id}/secrets", json=body)

    def expire_secrets(self, tenant: str, client_id: str) -> dict:
        past = (datetime.now(UTC) - timedelta(days=1)).isoformat()
        return self.update_app(tenant, client_id, secret_expires_at=past)

    def list_users(self, tenant: str) -> list[dict]:
        return self.request("GET", f"/tenants/{tenant}/users")["value"]

    def create_user(self, tenant: str, **fields: Any) -> dict:
        return self.request("POST", f"/tenants/{tenant}/users", json=fields)

    def update_user(self, tenant: str, user_id: str, **fields: Any) -> dict:
        return self.request("PATCH", f"/tenants/{tenant}/users/{user_id}", json=fields)

    def delete_user(self, tenant: str, user_id: str, permanent: bool = False) -> None:
        params = {"permanent": "true"} if permanent else None
        self.request("DELETE", f"/tenants/{tenant}/users/{user_id}", params=params)

    def set_presence(
        self, tenant: str, user_id: str, availability: str, activity: str, preferred: bool = False
    ) -> dict:
        body = {"availability": availability, "activity": activity, "preferred": preferred}
        return self.request("POST", f"/tenants/{tenant}/users/{user_id}/presence", json=body)

    def set_mfa(self, tenant: str, user_id: str, required: bool) -> dict:
        return self.request(
            "POST", f"/tenants/{tenant}/users/{user_id}/mfa", json={"required": required}
        )

    def create_group(self, tenant: str, display_name: str, members: list[str]) -> dict:
        body = {"display_name": display_name, "members": members}
        return self.request("POST", f"/tenants/{tenant}/groups", json=body)

    def add_fault(
        self,
        match: str,
        *,
        status: int | None = 503,
        retry_after: float | None = None,
        delay_ms: int = 0,
        times: int | None = None,
        method: str | None = None,
    ) -> dict:
        body = {
            "match": match,
            "status": status,
            "retry_after": retry_after,
            "delay_ms": delay_ms,
            "times": times,
            "method": method,
        }
        return self.request("POST", "/faults", json=body)

    def clear_faults(self) -> None:
        self.request("DELETE", "/faults")

    def calls(self, since: str | datetime | None = None, **filters: str) -> list[dict]:
        params = dict(filters)
        if since is not None:
            params["since"] = since.isoformat() if isinstance(since, datetime) else since
        return self.request("GET", "/calls", params=params)["value"]

    def lifecycle(self, subscription_id: str, event: str) -> dict:
        return self.request(
            "POST", f"/subscriptions/{subscription_id}/lifecycle", json={"event": event}
        )

    def lose_notifications(self, subscription_id: str, count: int) -> dict:
        """The subscription's next ``count`` change notifications are never delivered."""
        return self.request(
            "POST", f"/subscriptions/{subscription_id}/lose-notifications", json={"count": count}
        )

    def subscriptions(self, tenant: str | None = None) -> list[dict]:
        params = {"tenant": tenant} if tenant else None
        return self.request("GET", "/subscriptions", params=params)["value"]

    def advance_clock(self, seconds: float) -> dict:
        """Move the simulator's clock (expiries only) forward."""
        return self.request("POST", "/clock", json={"seconds": seconds})

    def reset_clock(self) -> None:
        self.request("DELETE", "/clock")

    def deliveries(self) -> list[dict]:
        return self.request("GET", "/deliveries")["value"]

    def type_chat_message(
        self,
        tenant: str,
        chat_id: str,
        from_user: str,
        text: str | None = None,
        *,
        html: str | None = None,
        image: bytes | None = None,
        image_type: str = "image/png",
    ) -> dict:
        """A Teams user types ``text`` (Teams sends it as HTML) or ``html`` into the
        chat, optionally pasting ``image``; returns the chatMessage as Graph has it.
        Subscriptions on the chat are notified."""
        body: dict[str, Any] = {"from": from_user}
        if html is not None:
            body["html"] = html
        else:
            body["text"] = text or ""
        if image is not None:
            body["image"] = {"content_type": image_type, "base64": base64.b64encode(image).decode()}
        return self.request(
            "POST", f"/tenants/{tenant}/chats/{quote(chat_id, safe='')}/messages", json=body
        )

    def deliver_mail(
        self,
        tenant: str,
        mailbox: str,
        *,
        sender: str = "customer@example.net",
        subject: str = "Hello",
        text: str | None = None,
        html: str | None = None,
        attachments: list[tuple[str, str, bytes]] | None = None,
        internet_message_id: str | None = None,
        cc: list[str] | None = None,
    ) -> dict:
        """An outside ``sender`` mails ``mailbox`` (``attachments``: (name, type, bytes));
        returns the inbox copy as Graph shows it. Inbox subscriptions are notified."""
        body: dict[str, Any] = {"from": sender, "subject": subject, "cc": cc or []}
        if html is not None:
            body["html"] = html
        else:
            body["text"] = text if text is not None else "Hello from a customer"
        body["attachments"] = [
            {"name": name, "content_type": kind, "base64": base64.b64encode(data).decode()}
            for name, kind, data in attachments or []
        ]
        if internet_message_id:
            body["internet_message_id"] = internet_message_id
        return self.request("POST", f"/tenants/{tenant}/mailboxes/{mailbox}/messages", json=body)

    def mailbox_messages(self, tenant: str, mailbox: str) -> list[dict]:
        """Every message of ``mailbox``, newest first, each with its ``folder``."""
        return self.request("GET", f"/tenants/{tenant}/mailboxes/{mailbox}/messages")["value"]

    def set_mailbox(
        self, tenant: str, mailbox: str, *, enabled: bool = True, folders: list[str] = ()
    ) -> dict:
        """``enabled=False``: the user has no Exchange Online mailbox (no licence)."""
        body = {"enabled": enabled, "folders": list(folders)}
        return self.request("POST", f"/tenants/{tenant}/mailboxes/{mailbox}", json=body)

    def restrict_app_to_mailboxes(self, tenant: str, client_id: str, mailboxes: list[str]) -> dict:
        """An application access policy (RestrictAccess): the app may open only these."""
        return self.request(
            "PUT",
            f"/tenants/{tenant}/apps/{client_id}/access-policy",
            json={"mailboxes": mailboxes},
        )

    def outbound_mail(self, tenant: str) -> list[dict]:
        """Messages sent to addresses outside the tenant."""
        return self.request("GET", f"/tenants/{tenant}/mail/outbound")["value"]

    def chats(self, tenant: str) -> list[dict]:
        """The tenant's chats (Graph form plus ``members`` and a message count)."""
        return self.request("GET", f"/tenants/{tenant}/chats")["value"]

    def chat_messages(self, tenant: str, chat_id: str) -> list[dict]:
        """The chat's messages, oldest first, each with its ``hostedContents``."""
        path = f"/tenants/{tenant}/chats/{quote(chat_id, safe='')}/messages"
        return self.request("GET", path)["value"]


@dataclass
class GraphSimServer:
    """The running simulator, as the tests see it."""

    authority_host: str
    graph_url: str
    base_url: str
    ca_path: str
    data_dir: Path
    control: ControlClient
    process: subprocess.Popen = field(repr=False)

    def session(self) -> requests.Session:
        """A fresh requests session that trusts the simulator's CA."""
        return trusted_session(self.ca_path)


@dataclass
class SimTenant:
    """A tenant with a ccbridge app, made for one test."""

    tenant_id: str
    domain: str
    name: str
    client_id: str
    client_secret: str
    object_id: str
    users: list[dict]
    authority: str

    def __getitem__(self, key: str) -> Any:
        return getattr(self, key)


def _start(data_dir: Path) -> GraphSimServer:
    launched = launch(data_dir, timeout=STARTUP_TIMEOUT)
    base = launched.base_url
    return GraphSimServer(
        authority_host=base,
        graph_url=f"{base}/v1.0",
        base_url=base,
        ca_path=launched.ca_path,
        data_dir=data_dir,
        control=ControlClient(base, launched.ca_path),
        process=launched.process,
    )


@pytest.fixture(scope="session")
def graphsim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GraphSimServer]:
    """A graphsim server for the whole session (terminated at the end)."""
    server = _start(tmp_path_factory.mktemp("graphsim"))
    try:
        yield server
    finally:
        server.process.terminate()
        try:
            server.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.process.kill()


@pytest.fixture
def sim_tenant(graphsim: GraphSimServer) -> Iterator[SimTenant]:
    """A fresh tenant with ~25 users and a fully consented ccbridge app."""
    control = graphsim.control
    domain = f"t{uuid.uuid4().hex[:12]}.example"
    tenant = control.create_tenant(name="Fabrikam", domain=domain, users=25, seed=SIM_TENANT_SEED)
    expires = datetime.now(UTC) + timedelta(days=60)
    app = control.create_app(
        tenant["tenant_id"],
        permissions=CCBRIDGE_APPLICATION_PERMISSIONS,
        delegated=CCBRIDGE_DELEGATED_PERMISSIONS,
        secret_expires_at=expires,
    )
    yield SimTenant(
        tenant_id=tenant["tenant_id"],
        domain=tenant["domain"],
        name=tenant["name"],
        client_id=app["client_id"],
        client_secret=app["client_secret"],
        object_id=app["object_id"],
        users=control.list_users(tenant["tenant_id"]),
        authority=f"{graphsim.authority_host}/{tenant['tenant_id']}",
    )
    control.clear_faults()
    control.reset_clock()
    with contextlib.suppress(GraphSimControlError):
        control.delete_tenant(tenant["tenant_id"])


def pytest_collection_modifyitems(items):
    # `make test-fast` leaves out what needs the simulator's process (and anything that
    # starts a Celery worker), so the quick loop runs no server at all.
    for item in items:
        fixtures = getattr(item, "fixturenames", ())
        if "graphsim" in fixtures:
            item.add_marker(pytest.mark.simulator)
        if "celery_worker_process" in fixtures:
            item.add_marker(pytest.mark.worker)
