"""Rows 1-2 of the issue: full directory sync of 50,000 users against the floor, then
an incremental sync after 100 changes.

The floor pages through the same ``/users/delta`` pages with a bare requests
session and throws them away: what the network and the simulator cost alone.
"""

from __future__ import annotations

import math
import resource
import time
from pathlib import Path

from django.conf import settings
from django.db import connection

from accounts.models import DirectorySyncState, DirectoryUser
from accounts.sync import PAGE_SIZE, directory_sync_run
from bench.report import Row, median
from bench.simulator import Simulator, trusted_session
from graph.directory import USER_SELECT
from graph.tokens import AppTokenProvider
from integrations.graphlink import app_credentials, graph_config
from integrations.models import IntegrationAccount

USERS = 50_000
RUNS = 3
CHANGES = 100


def account_create(tenant: dict[str, str]) -> IntegrationAccount:
    account = IntegrationAccount(
        name="Bench Teams",
        tenant=tenant["tenant_id"],
        client_id=tenant["client_id"],
        object_id=tenant["object_id"],
    )
    account.client_secret = tenant["client_secret"]
    account.save()
    return account


def _reset() -> None:
    """An empty directory, as before a first sync.

    One DELETE statement: QuerySet.delete() would load all 50,000 users as model
    objects to look for cascades, and that, not the sync, set the peak RSS. On
    PostgreSQL the dead rows are vacuumed away so each run starts from the same table.
    """
    table = connection.ops.quote_name(DirectoryUser._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {table}")  # noqa: S608 - the model's own table name
        if connection.vendor == "postgresql":
            cursor.execute(f"VACUUM ANALYZE {table}")
    DirectorySyncState.objects.all().delete()


def _peak_reset() -> bool:
    """Start a new peak-RSS measurement for this process (Linux); False where unsupported."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def _peak_mb() -> float:
    """The peak RSS since :func:`_peak_reset` (VmHWM), else of the whole process, in MB."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    # ru_maxrss is in KiB on Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _floor(account: IntegrationAccount) -> tuple[float, int]:
    """Seconds to page the full delta with a bare session, and the pages fetched."""
    token = AppTokenProvider(graph_config(), app_credentials(account)).acquire().token
    session = trusted_session(settings.GRAPH_CA_BUNDLE)
    session.headers.update(
        {"Authorization": f"Bearer {token}", "Prefer": f"odata.maxpagesize={PAGE_SIZE}"}
    )
    started = time.perf_counter()
    url: str | None = f"{settings.GRAPH_BASE_URL.rstrip('/')}/users/delta"
    params: dict[str, str] | None = {"$select": ",".join(USER_SELECT)}
    pages = 0
    while url:
        response = session.get(url, params=params, timeout=60)
        response.raise_for_status()
        body = response.json()
        pages += 1
        url, params = body.get("@odata.nextLink"), None
    return time.perf_counter() - started, pages


def _delta_requests(calls: list[dict]) -> int:
    return sum(1 for call in calls if call["path"].endswith("/users/delta"))


def measure(sim: Simulator) -> list[Row]:
    tenant = sim.tenant_with_app(domain="bench-sync.example", users=USERS, seed=8)
    account = account_create(tenant)
    expected_pages = math.ceil(USERS / PAGE_SIZE)

    sync_times, floor_times, sync_pages, floor_pages, peaks = [], [], [], [], []
    for _ in range(RUNS):
        _reset()
        _peak_reset()
        since = time.time()
        started = time.perf_counter()
        directory_sync_run()
        sync_times.append(time.perf_counter() - started)
        peaks.append(_peak_mb())
        sync_pages.append(_delta_requests(sim.calls_since(since, tenant["tenant_id"])))
        seconds, pages = _floor(account)
        floor_times.append(seconds)
        floor_pages.append(pages)
    # The peak of this process (baseline included) while it ran the sync in-process.
    peak_mb = max(peaks)
    synced = DirectoryUser.objects.count()
    sync_s, floor_s = median(sync_times), median(floor_times)
    ratio = sync_s / floor_s
    pages = max(sync_pages)
    full = Row(
        f"full directory sync, {USERS:,} users",
        f"{sync_s:.2f} s vs floor {floor_s:.2f} s = {ratio:.2f}x; {pages} page requests; "
        f"peak RSS {peak_mb:.0f} MB",
        f"≤ 1.5x floor; exactly {expected_pages} page requests; peak RSS ≤ 200 MB",
        ratio <= 1.5 and all(p == expected_pages for p in sync_pages) and peak_mb <= 200,
        {
            "sync_seconds": sync_times,
            "floor_seconds": floor_times,
            "ratio": ratio,
            "sync_page_requests": sync_pages,
            "floor_page_requests": floor_pages,
            "peak_rss_mb": peak_mb,
            "peak_rss_mb_per_run": peaks,
            "process_peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "users_synced": synced,
        },
    )
    return [full, _incremental(sim, tenant)]


def _incremental(sim: Simulator, tenant: dict[str, str]) -> Row:
    """Change 100 users (50 new, 50 edited) through the control API, then run the delta."""
    tid = tenant["tenant_id"]
    existing = [u["id"] for u in sim.control("GET", f"/tenants/{tid}/users")["value"][:1000]]
    times, requests_made, delta_pages = [], [], []
    for run in range(RUNS):
        for i in range(CHANGES // 2):
            sim.control(
                "POST",
                f"/tenants/{tid}/users",
                json={"displayName": f"Bench New{run}x{i}", "mailNickname": f"bench.{run}.{i}"},
            )
            user_id = existing[run * CHANGES + i]
            sim.control(
                "PATCH", f"/tenants/{tid}/users/{user_id}", json={"jobTitle": f"Bench {run}"}
            )
        since = time.time()
        started = time.perf_counter()
        directory_sync_run()
        times.append(time.perf_counter() - started)
        calls = sim.calls_since(since, tid)
        requests_made.append(len(calls))
        delta_pages.append(_delta_requests(calls))
    seconds = median(times)
    worst = max(requests_made)
    return Row(
        f"incremental sync after {CHANGES} changes",
        f"{seconds * 1000:.0f} ms; {worst} requests",
        "≤ 2 requests, < 1 s",
        seconds < 1 and worst <= 2,
        {"seconds": times, "requests": requests_made, "delta_requests": delta_pages},
    )
