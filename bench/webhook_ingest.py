"""Webhook ingest: valid encrypted presence notifications POSTed to the live webhook.

The bodies are what the simulator sends (graphsim builds them with the same
functions): items of the bench's real subscriptions with their clientState,
``encryptedContent`` for the console's active certificate (RSA-OAEP key, AES,
``dataSignature``) and a validation token signed with the simulator's key,
which the webhook checks against the simulator's published keys. They go to
gunicorn with 1 and with 50 notifications per POST; the floor is a bare view
answering 202 (bench/wsgi.py) in the same gunicorn, driven by the same
generator with the same bodies in the same run. No worker runs meanwhile: the
queued tasks are counted and dropped.

Besides the rates, each run reports the CPU time gunicorn's workers spent per
POST (from /proc): on a machine shared with other jobs the rates move with their
load, while the CPU per POST, webhook against floor, hardly does.
"""

from __future__ import annotations

import json
import os
from itertools import cycle
from pathlib import Path

from cryptography import x509

from bench import loadgen
from bench.report import Row, median, percentile
from bench.simulator import Simulator
from bench.stack import FLOOR_PATH, Stack
from graphsim.core.certs import load_signing_key
from graphsim.identity.tokens import validation_token
from graphsim.subscriptions.notify import encrypt_content
from presence.subscriptions.certificates import certificate_active

MEASURE = "webhook ingest"
TARGET = "≥ 2,000 notifications/s; p99 < 100 ms; ≥ 0.5x floor"
TARGET_RATE = 2000
TARGET_P99_MS = 100
TARGET_RATIO = 0.5
SIZES = (1, 50)
BODIES = 200  # distinct prepared bodies per size, cycled
CONNECTIONS = 16
RUN_SECONDS = 5.0
MAX_REQUESTS = {1: 40_000, 50: 2_000}
RUNS = 3
AVAILABILITIES = (("Available", "Available"), ("Busy", "InACall"), ("Away", "Away"))


def _items(sim: Simulator, tenant_id: str) -> list[dict]:
    """One notification item per watched user, as the simulator would post it."""
    certificate = certificate_active()
    cert = x509.load_pem_x509_certificate(certificate.certificate_pem.encode())
    public_key = cert.public_key()
    items = []
    subscriptions = sim.control("GET", "/subscriptions", params={"tenant": tenant_id})["value"]
    sequence = 0
    for subscription in subscriptions:
        for user_id in subscription["watched"]:
            sequence += 1
            availability, activity = AVAILABILITIES[sequence % len(AVAILABILITIES)]
            resource = f"communications/presences('{user_id}')"
            content = {
                "@odata.type": "#Microsoft.Graph.presence",
                "@odata.id": resource,
                "id": user_id,
                "availability": availability,
                "activity": activity,
                "statusMessage": None,
                "outOfOfficeSettings": {"message": None, "isOutOfOffice": False},
                "sequenceNumber": f"{sequence:020d}",
            }
            items.append(
                {
                    "subscriptionId": subscription["id"],
                    "subscriptionExpirationDateTime": subscription["expirationDateTime"],
                    "changeType": "updated",
                    "resource": resource,
                    "resourceData": {
                        "@odata.type": "#Microsoft.Graph.presence",
                        "@odata.id": resource,
                        "id": user_id,
                    },
                    "clientState": subscription["clientState"],
                    "tenantId": tenant_id,
                    "encryptedContent": encrypt_content(
                        public_key, certificate.certificate_id, certificate.thumbprint, content
                    ),
                }
            )
    return items


def bodies(sim: Simulator, tenant_id: str, client_id: str, size: int) -> list[bytes]:
    """BODIES POST bodies of ``size`` notifications each (items reused across bodies)."""
    key = load_signing_key(Path(sim.ca_path).parent)
    token = validation_token(key, tenant_id, client_id)
    items = cycle(_items(sim, tenant_id))
    return [
        json.dumps(
            {"value": [next(items) for _ in range(size)], "validationTokens": [token]}
        ).encode()
        for _ in range(BODIES)
    ]


def _web_cpu_seconds(stack: Stack) -> float:
    """CPU time (user + system) used so far by gunicorn's workers; NaN without /proc."""
    total = 0.0
    try:
        for process in stack.processes:
            if process.name != "web":
                continue
            pid = process.popen.pid
            children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
            for child in children:
                fields = Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1].split()
                total += int(fields[11]) + int(fields[12])  # utime, stime in clock ticks
    except (OSError, ValueError, IndexError):
        return float("nan")
    return total / os.sysconf("SC_CLK_TCK")


def _drive(
    stack: Stack, url: str, requests: list[bytes], size: int
) -> tuple[loadgen.LoadResult, float]:
    """The load result and the web workers' CPU seconds spent meanwhile."""
    before = _web_cpu_seconds(stack)
    result = loadgen.run(
        url, requests, connections=CONNECTIONS, max_requests=MAX_REQUESTS[size],
        seconds=RUN_SECONDS,
    )  # fmt: skip
    return result, _web_cpu_seconds(stack) - before


def _figures(result: loadgen.LoadResult, cpu_seconds: float, size: int) -> dict[str, float]:
    latencies = result.latencies or [float("nan")]
    return {
        "cpu_ms_per_post": cpu_seconds * 1000 / result.ok if result.ok else float("nan"),
        "notifications_per_s": result.ok * size / result.elapsed,
        "requests_per_s": result.ok / result.elapsed,
        "p50_ms": percentile(latencies, 0.50) * 1000,
        "p99_ms": percentile(latencies, 0.99) * 1000,
        "requests": result.ok,
        "failed": sum(n for status, n in result.statuses.items() if status >= 300) + result.errors,
    }


def _median_run(runs: list[dict[str, float]]) -> dict[str, float]:
    return {key: median([run[key] for run in runs]) for key in runs[0]}


def measure(sim: Simulator, stack: Stack, tenant_id: str, client_id: str) -> list[Row]:
    """One row per body size. Side effects: tasks queued on the stack's queue, then dropped."""
    rows = []
    hook_url = f"{stack.web_url}/graph/notifications"
    floor_url = f"{stack.web_url}/{FLOOR_PATH}"
    for size in SIZES:
        prepared = bodies(sim, tenant_id, client_id, size)
        hook_requests = loadgen.prepare(hook_url, prepared)
        floor_requests = loadgen.prepare(floor_url, prepared)
        # Warm-up: signing keys fetched, connections and caches in every gunicorn worker.
        loadgen.run(hook_url, hook_requests, connections=CONNECTIONS, max_requests=200,
                    seconds=2)  # fmt: skip
        stack.purge()
        hook_runs, floor_runs, queued, accepted = [], [], 0, 0
        for _ in range(RUNS):
            floor_runs.append(_figures(*_drive(stack, floor_url, floor_requests, size), size))
            result, cpu_seconds = _drive(stack, hook_url, hook_requests, size)
            hook_runs.append(_figures(result, cpu_seconds, size))
            accepted += result.ok
            # One task per accepted POST, whatever its size.
            queued += stack.purge()
        hook, floor = _median_run(hook_runs), _median_run(floor_runs)
        ratio = hook["notifications_per_s"] / floor["notifications_per_s"]
        met = (
            hook["notifications_per_s"] >= TARGET_RATE
            and hook["p99_ms"] < TARGET_P99_MS
            and ratio >= TARGET_RATIO
            and hook["failed"] == 0
            and queued == accepted
        )
        result_text = (
            f"{hook['notifications_per_s']:,.0f} notifications/s "
            f"({hook['requests_per_s']:,.0f} POSTs/s); p50 {hook['p50_ms']:.1f} ms, "
            f"p99 {hook['p99_ms']:.1f} ms; floor {floor['notifications_per_s']:,.0f}/s "
            f"(p99 {floor['p99_ms']:.1f} ms) = {ratio:.2f}x; "
            f"CPU per POST {hook['cpu_ms_per_post']:.2f} ms, floor "
            f"{floor['cpu_ms_per_post']:.2f} ms; "
            f"{queued:,} tasks queued for {accepted:,} accepted POSTs"
        )
        rows.append(
            Row(
                f"{MEASURE}, {size} notification{'s' if size > 1 else ''} per POST",
                result_text,
                TARGET,
                met,
                {
                    "webhook": hook,
                    "floor": floor,
                    "ratio": ratio,
                    "runs": hook_runs,
                    "floor_runs": floor_runs,
                    "queued": queued,
                    "accepted": accepted,
                    "connections": CONNECTIONS,
                    "gunicorn": "gthread 3 workers x 4 threads",
                },
            )
        )
    return rows
