"""Helpers for the subscription and system-user tests (imported explicitly).

* :class:`HandshakeServer`: a tiny HTTP receiver on loopback that answers
  Graph's validation handshake and records what Graph posts, so subscription
  creation in the simulator succeeds without the console's webhook.
* :func:`presence_tenant`: a simulator tenant with enough users for 800 agents.
* :func:`sim_account`, :func:`map_agents`, :func:`sim_system_user`.
"""

from __future__ import annotations

import contextlib
import json
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from accounts.models import Agent, AgentMapping, BusinessUnit, DirectoryUser
from integrations.models import IntegrationAccount
from tests.integrations.factories import IntegrationAccountFactory
from tests.plugins.graphsim_server import (
    CCBRIDGE_APPLICATION_PERMISSIONS,
    CCBRIDGE_DELEGATED_PERMISSIONS,
    GraphSimControlError,
    GraphSimServer,
    SimTenant,
)

SYSTEM_PASSWORD = "Sys-User-Passw0rd!"


class HandshakeServer:
    """Answers ``POST …?validationToken=…`` with the token (200, text/plain) and
    any other POST with 202, keeping the JSON bodies in ``posts``."""

    def __init__(self) -> None:
        self.posts: list[tuple[str, dict]] = []
        self.validations: list[str] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                parts = urlsplit(self.path)
                token = parse_qs(parts.query).get("validationToken")
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                if token:
                    owner.validations.append(parts.path)
                    body = token[0].encode()
                    self.send_response(200)
                    self.send_header("Content-Type", "text/plain; charset=utf-8")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                with contextlib.suppress(ValueError):
                    owner.posts.append((parts.path, json.loads(raw or b"{}")))
                self.send_response(202)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def lifecycle_items(self) -> list[dict]:
        return [
            item
            for path, body in self.posts
            if path.endswith("/lifecycle")
            for item in body.get("value") or []
        ]

    def __enter__(self) -> HandshakeServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


def presence_tenant(graphsim: GraphSimServer, users: int) -> Iterator[SimTenant]:
    """A fresh tenant with ``users`` users and a fully consented ccbridge app."""
    control = graphsim.control
    domain = f"p{uuid.uuid4().hex[:12]}.example"
    tenant = control.create_tenant(name="Tailspin", domain=domain, users=users, seed=777)
    app = control.create_app(
        tenant["tenant_id"],
        permissions=CCBRIDGE_APPLICATION_PERMISSIONS,
        delegated=CCBRIDGE_DELEGATED_PERMISSIONS,
        secret_expires_at=datetime.now(UTC) + timedelta(days=60),
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


def sim_account(tenant: SimTenant, *, by_domain: bool = False) -> IntegrationAccount:
    """The integration account pointed at ``tenant`` (by id, or by its domain)."""
    return IntegrationAccountFactory.for_tenant(tenant, by_domain=by_domain, name="Tailspin Teams")


def map_agents(users: list[dict]) -> list[Agent]:
    """One mapped, Teams-enabled agent per simulator user (bulk, for hundreds)."""
    unit, _ = BusinessUnit.objects.get_or_create(code="voice", defaults={"name": "Voice"})
    directory = DirectoryUser.objects.bulk_create(
        [
            DirectoryUser(
                graph_id=u["id"],
                display_name=u.get("displayName") or "",
                user_principal_name=u.get("userPrincipalName") or "",
                mail=u.get("mail") or "",
            )
            for u in users
        ]
    )
    agents = Agent.objects.bulk_create(
        [
            Agent(external_id=f"ACD-{u['id']}", name=f"Agent {u['id'][:8]}", business_unit=unit)
            for u in users
        ]
    )
    AgentMapping.objects.bulk_create(
        [
            AgentMapping(agent=a, directory_user=d, method=AgentMapping.Method.MANUAL)
            for a, d in zip(agents, directory, strict=True)
        ]
    )
    return agents


def sim_system_user(
    graphsim: GraphSimServer,
    tenant: SimTenant,
    *,
    password: str = SYSTEM_PASSWORD,
    mfa_required: bool = False,
    name: str | None = None,
) -> dict:
    """A Teams account in the simulator that a system user can sign in as."""
    nickname = name or f"presence_{uuid.uuid4().hex[:8]}"
    return graphsim.control.create_user(
        tenant.tenant_id,
        displayName=nickname,
        mailNickname=nickname,
        password=password,
        mfa_required=mfa_required,
    )


# --- fixtures (import them by name in a test module; pytest finds them there) ------------


@pytest.fixture(name="handshake")
def handshake_fixture(settings) -> Iterator[HandshakeServer]:
    """A loopback receiver for Graph's validation handshake; CCBRIDGE_PUBLIC_URL points at it."""
    with HandshakeServer() as server:
        settings.CCBRIDGE_PUBLIC_URL = server.url
        yield server


@pytest.fixture(name="small_tenant")
def small_tenant_fixture(graphsim) -> Iterator[SimTenant]:
    """A tenant with 30 users."""
    yield from presence_tenant(graphsim, users=30)


@pytest.fixture(name="big_tenant")
def big_tenant_fixture(graphsim) -> Iterator[SimTenant]:
    """A tenant with 810 users: 800 agents plus room."""
    yield from presence_tenant(graphsim, users=810)
