"""The two end-to-end latency rows, through the running product (bench/harness.py).

- ACD event → setPresence: events POSTed one per request to /api/v1/agent-events
  at a steady rate; latency from the API's 202 (taken when the answer arrives)
  to the setPresence call in the simulator's call log (logged as it answers).
- Teams change → ACD delivery: presence changes made through the simulator's
  control API at a steady rate; the simulator notifies the webhook, the worker
  delivers to the bench's ACD receiver; latency from the webhook reading the
  notification (the delivery's ``occurred_at``) to the receiver's arrival time.

Both use the same wall clock (one machine). Separate agents for each row, so
the console's own sessions from the first never mask a change in the second.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import datetime

import requests

from bench.harness import Running
from bench.report import Row, percentile
from bench.scenario import BenchAgent

EVENTS = 1000
CHANGES = 1000
RATE_PER_SECOND = 20.0
SETTLE_SECONDS = 60.0
TARGET_MS = 250


def paced(count: int, rate: float, send: Callable[[int], None]) -> float:
    """Call ``send(n)`` for n in range(count) at ``rate`` per second; returns seconds taken."""
    started = time.monotonic()
    for number in range(count):
        due = started + number / rate
        wait = due - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        send(number)
    return time.monotonic() - started


def wait_until(done: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if done():
            return True
        time.sleep(0.5)
    return done()


def _epoch(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def api_session(running: Running) -> requests.Session:
    session = requests.Session()
    session.trust_env = False
    session.headers["X-API-Key"] = running.scenario.api_key
    return session


def post_event(session: requests.Session, url: str, body: dict) -> float:
    """POST one batch of events; returns the epoch time the 202 arrived. Raises on refusal."""
    response = session.post(url, data=json.dumps(body),
                            headers={"Content-Type": "application/json"}, timeout=30)  # fmt: skip
    accepted = time.time()
    if response.status_code != 202:
        raise RuntimeError(f"agent events refused: {response.status_code} {response.text[:300]}")
    return accepted


def _row(measure: str, latencies: list[float], expected: int, extra: dict) -> Row:
    seen = len(latencies)
    if not latencies:
        return Row(measure, f"nothing arrived of {expected}", f"p95 < {TARGET_MS} ms", False, extra)
    p50, p95 = percentile(latencies, 0.5) * 1000, percentile(latencies, 0.95) * 1000
    worst = max(latencies) * 1000
    return Row(
        measure,
        f"p50 {p50:.0f} ms, p95 {p95:.0f} ms (max {worst:.0f} ms); {seen:,} of {expected:,} "
        f"at {extra['rate']:.0f}/s",
        f"p95 < {TARGET_MS} ms",
        p95 < TARGET_MS and seen == expected,
        {"p50_ms": p50, "p95_ms": p95, "max_ms": worst, "seen": seen, **extra},
    )


def to_teams(running: Running, *, count: int = EVENTS, rate: float = RATE_PER_SECOND) -> Row:
    """ACD event → setPresence seen by the simulator, for ``count`` agents, one event each."""
    running.ensure_worker()
    agents: list[BenchAgent] = running.scenario.agents[:count]
    url = f"{running.stack.web_url}/api/v1/agent-events"
    session = api_session(running)
    accepted: dict[str, float] = {}
    since = time.time() - 1

    def send(number: int) -> None:
        agent = agents[number]
        event = {"agent": agent.external_id, "state": "working", "interaction": "none",
                 "occurred_at": datetime.now().astimezone().isoformat(), "sequence": 1}  # fmt: skip
        accepted[agent.user_id] = post_event(session, url, {"events": [event]})

    seconds = paced(len(agents), rate, send)
    seen: dict[str, float] = {}

    def arrived() -> bool:
        calls = running.sim.calls_since(since, running.scenario.tenant_id)
        for call in calls:
            if call["path"].endswith("/presence/setPresence") and call["status"] == 200:
                user_id = call["path"].split("/")[3]
                if user_id in accepted and user_id not in seen:
                    seen[user_id] = _epoch(call["time"])
        return len(seen) >= len(accepted)

    wait_until(arrived, SETTLE_SECONDS)
    latencies = [seen[u] - accepted[u] for u in seen]
    return _row(
        "ACD event → setPresence seen by the simulator",
        latencies,
        len(agents),
        {"rate": len(agents) / seconds, "events": len(agents)},
    )


def to_acd(running: Running, *, count: int = CHANGES, rate: float = RATE_PER_SECOND) -> Row:
    """Teams change → ACD webhook delivered, for ``count`` agents, one change each."""
    running.ensure_worker()
    agents = running.scenario.agents[-count:]
    tenant = running.scenario.tenant_id
    wanted = {agent.external_id for agent in agents}
    running.receiver.taken()
    changed: dict[str, float] = {}

    def send(number: int) -> None:
        agent = agents[number]
        running.sim.control(
            "POST",
            f"/tenants/{tenant}/users/{agent.user_id}/presence",
            json={"availability": "Busy", "activity": "InACall"},
        )
        changed[agent.external_id] = time.time()

    seconds = paced(len(agents), rate, send)
    arrivals: dict[str, tuple[float, float]] = {}

    def arrived() -> bool:
        for arrival in running.receiver.taken():
            external_id = arrival.payload["agent"]["external_id"]
            if external_id in wanted and external_id not in arrivals:
                arrivals[external_id] = (arrival.at, _epoch(arrival.payload["occurred_at"]))
        return len(arrivals) >= len(wanted)

    wait_until(arrived, SETTLE_SECONDS)
    latencies = [at - observed for at, observed in arrivals.values()]
    end_to_end = [arrivals[e][0] - changed[e] for e in arrivals if e in changed]
    return _row(
        "Teams change → ACD webhook delivered",
        latencies,
        len(agents),
        {
            "rate": len(agents) / seconds,
            "changes": len(agents),
            "from_control_call_p95_ms": percentile(end_to_end, 0.95) * 1000 if end_to_end else None,
            "refused_signatures": running.receiver.refused,
        },
    )
