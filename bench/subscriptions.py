"""Presence subscriptions for N mapped agents: the product's sync against the simulator.

For each N, a fresh simulator tenant, N agents mapped to its users and a pool of
signed-in system users with room to spare, then ``subscriptions_sync()`` from
nothing and, 45 minutes later (the simulator's clock moved with it), a renewal
cycle. What counts is what the simulator saw: the ``POST /subscriptions`` and
``PATCH /subscriptions/{id}`` calls in its log, and the users each live
subscription watches.

Every database row is written in one transaction that is rolled back at the end, so
later measures see none of it; agents that other measures left are switched off
inside it, so only these N are watched.
"""

from __future__ import annotations

import contextlib
import math
import re
import secrets
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import Agent, AgentMapping, BusinessUnit, DirectoryUser
from bench.report import Row
from bench.scenario import APPLICATION_PERMISSIONS, DELEGATED_PERMISSIONS, system_users_add
from bench.simulator import Simulator, trusted_session
from integrations.models import IntegrationAccount
from integrations.services import account_get
from presence.subscriptions.plan import CAPACITY
from presence.subscriptions.services import subscriptions_sync

SIZES = (800, 5_000, 20_000)
# A real pool has room: idle system users must stay idle, not get a subscription each.
SPARE_SYSTEM_USERS = 2
# Subscriptions live 55 minutes and are renewed within 15 of expiry: 45 minutes on.
RENEWAL_CYCLE = timedelta(minutes=45)
BATCH = 5_000
_SUBSCRIPTION_PATH = re.compile(r"^(/v1\.0)?/subscriptions/?$")
_ONE_SUBSCRIPTION_PATH = re.compile(r"^(/v1\.0)?/subscriptions/[^/]+$")


class _Handshake:
    """Graph's validation handshake on loopback: echoes ``validationToken`` (200,
    text/plain) and accepts anything else with 202."""

    def __init__(self) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                token = parse_qs(urlsplit(self.path).query).get("validationToken")
                body = token[0].encode() if token else b""
                self.send_response(200 if token else 202)
                self.send_header("Content-Type", "text/plain; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> _Handshake:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@contextlib.contextmanager
def _rolled_back() -> Iterator[None]:
    """Everything inside happens in one transaction that is then undone."""
    with transaction.atomic():
        yield
        transaction.set_rollback(True)


def _tenant(sim: Simulator, size: int) -> dict[str, str]:
    """A simulator tenant with room for ``size`` agents, and the app the sync signs in with."""
    domain = f"benchsubs{secrets.token_hex(4)}.example"
    tenant = sim.control(
        "POST",
        "/tenants",
        json={"name": domain, "domain": domain, "users": size + size // 10 + 20, "seed": size},
    )
    app = sim.control(
        "POST",
        f"/tenants/{tenant['tenant_id']}/apps",
        json={
            "permissions": APPLICATION_PERMISSIONS,
            "delegated": DELEGATED_PERMISSIONS,
            "secret_expires_at": (datetime.now(UTC) + timedelta(days=60)).isoformat(),
            "display_name": "ccbridge-bench-subscriptions",
        },
    )
    account = account_get() or IntegrationAccount(name="Bench Teams")
    account.tenant, account.client_id = tenant["tenant_id"], app["client_id"]
    account.object_id = app["object_id"]
    account.client_secret = app["client_secret"]
    account.token_cache = ""
    account.save()
    return tenant


def _map_agents(sim: Simulator, tenant_id: str, size: int) -> None:
    """``size`` Teams-enabled agents, each mapped to an enabled user of the tenant."""
    users = sim.control("GET", f"/tenants/{tenant_id}/users")["value"]
    enabled = [u for u in users if u.get("accountEnabled")][:size]
    if len(enabled) < size:
        raise RuntimeError(f"the tenant has {len(enabled)} enabled users, not {size}")
    unit = BusinessUnit.objects.create(name=f"Subscriptions {size}", code=f"bench-subs-{size}")
    directory = DirectoryUser.objects.bulk_create(
        [DirectoryUser(graph_id=u["id"], display_name=u.get("displayName") or "") for u in enabled],
        batch_size=BATCH,
    )
    agents = Agent.objects.bulk_create(
        [Agent(external_id=f"SUBS-{u['id']}", name=u["id"], business_unit=unit) for u in enabled],
        batch_size=BATCH,
    )
    AgentMapping.objects.bulk_create(
        [
            AgentMapping(agent=a, directory_user=d, method=AgentMapping.Method.MANUAL)
            for a, d in zip(agents, directory, strict=True)
        ],
        batch_size=BATCH,
    )


def _count(calls: list[dict], method: str, path: re.Pattern[str]) -> int:
    return sum(1 for c in calls if c["method"] == method and path.match(c["path"]))


def _one_size(sim: Simulator, size: int) -> Row:
    expected = math.ceil(size / CAPACITY)
    tenant_id = _tenant(sim, size)["tenant_id"]
    # Only this size's agents are watched: switch off whatever other measures left.
    Agent.objects.filter(teams_enabled=True).update(teams_enabled=False)
    _map_agents(sim, tenant_id, size)
    system_users_add(sim, tenant_id, expected + SPARE_SYSTEM_USERS, prefix="bench_subs")

    since = time.time()
    started = time.perf_counter()
    created = subscriptions_sync()
    create_seconds = time.perf_counter() - started
    calls = sim.calls_since(since, tenant_id)
    posts = _count(calls, "POST", _SUBSCRIPTION_PATH)
    listed = sim.control("GET", "/subscriptions", params={"tenant": tenant_id})["value"]
    watched = [len(s["watched"]) for s in listed]

    sim.control("POST", "/clock", json={"seconds": RENEWAL_CYCLE.total_seconds()})
    try:
        since = time.time()
        started = time.perf_counter()
        renewed = subscriptions_sync(now=timezone.now() + RENEWAL_CYCLE)
        renew_seconds = time.perf_counter() - started
        calls = sim.calls_since(since, tenant_id)
    finally:
        sim.control("DELETE", "/clock")
    patches = _count(calls, "PATCH", _ONE_SUBSCRIPTION_PATH)
    renewal_posts = _count(calls, "POST", _SUBSCRIPTION_PATH)

    covered = sum(watched)
    biggest = max(watched, default=0)
    return Row(
        f"subscriptions for {size:,} mapped agents",
        f"{posts} created (≤ {biggest} users each, {covered:,} covered) in "
        f"{create_seconds:.1f} s; {patches} renewals per cycle in {renew_seconds:.1f} s",
        f"exactly ceil(N/650) = {expected}; renewals per cycle = that number",
        posts == expected == patches == len(listed)
        and renewal_posts == 0
        and biggest <= CAPACITY
        and covered == size,
        {
            "expected": expected,
            "system_users": expected + SPARE_SYSTEM_USERS,
            "post_subscriptions": posts,
            "live_subscriptions": len(listed),
            "users_per_subscription": sorted(watched, reverse=True),
            "users_covered": covered,
            "patch_renewals": patches,
            "posts_during_renewal": renewal_posts,
            "create_seconds": create_seconds,
            "renew_seconds": renew_seconds,
            "sync_created": created.counts(),
            "sync_renewed": renewed.counts(),
        },
    )


def _running_simulator() -> Simulator:
    """The bench's simulator, found through the settings the bench pointed at it."""
    session = trusted_session(settings.GRAPH_CA_BUNDLE)
    base_url = settings.GRAPH_AUTHORITY_HOST.rstrip("/")
    return Simulator(base_url, settings.GRAPH_CA_BUNDLE, process=None, session=session)


def measure(sim: Simulator | None = None) -> list[Row]:
    """One row per size. Side effects: simulator tenants and subscriptions (left in the
    simulator, which the bench throws away); no database rows survive."""
    sim = sim or _running_simulator()
    public_url = settings.CCBRIDGE_PUBLIC_URL
    rows = []
    with _Handshake() as handshake:
        settings.CCBRIDGE_PUBLIC_URL = handshake.url
        try:
            for size in SIZES:
                with _rolled_back():
                    rows.append(_one_size(sim, size))
        finally:
            settings.CCBRIDGE_PUBLIC_URL = public_url
    return rows
