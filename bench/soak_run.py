"""The soak's traffic and its final check (see bench/soak.py).

Two senders run at once for the given time, each paced to its rate: agent
events in batches through the API for the ACD-driven half of the agents, and
presence changes through the simulator's control API for the Teams-driven
half (each change differs from that user's previous one, so each is a real
change Graph announces). Every value sent is remembered per agent; after the
product has drained, the last one is what the rule must show.

The pacing is open loop: requests are due on a fixed schedule and handed to a
pool of sender threads, so a slow answer delays no later request unless every
sender is busy (then the request waits, and the slip is reported). An agent
never has two requests in flight, so each agent's values arrive in order.
"""

from __future__ import annotations

import argparse
import json
import queue
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import requests

from bench.harness import Running
from bench.latency import api_session
from bench.report import percentile
from bench.scenario import PUBLISHED, SUBSCRIBED, BenchAgent
from bench.simulator import trusted_session
from presence.sync_models import AcdDelivery, AgentEvent, AgentPresence, WebhookCounter

# Requests in flight at most, per kind. Each sender thread has one request out at a time,
# so the schedule holds while a request takes less than senders / requests per second:
# 16 / 10 batches/s = 1.6 s for the API, 96 / 50 changes/s = 1.9 s for the simulator. On a
# busy 2-core box the simulator answers a change in about 0.7 s (p95 1.4 s): it closes
# every connection, so each change is a TLS handshake in a process that also serves the
# worker's Graph calls.
EVENT_SENDERS = 16
CHANGE_SENDERS = 96
# A run that sends slower than this share of an asked rate has not shown that rate.
RATE_TOLERANCE = 0.95
TEAMS_PAIRS = {
    "Available": "Available",
    "Busy": "InACall",
    "Away": "Away",
    "DoNotDisturb": "Presenting",
}
QUIET_CHECKS = 3  # consecutive idle checks, a second apart, before the final check
SHOWN_MISMATCHES = 10
_counting = threading.Lock()  # senders share the Outcome's counters


@dataclass
class Flow:
    """One kind of traffic: the rate asked, and how the requests went (times in seconds)."""

    asked: float  # items (events or changes) per second
    items: int = 0  # items in the requests sent
    seconds: float = 0.0  # from the first request's due time to the last answer
    latencies: list[float] = field(default_factory=list)  # per request, send to answer
    slips: list[float] = field(default_factory=list)  # per request, due time to send

    @property
    def achieved(self) -> float:
        return self.items / self.seconds if self.seconds else 0.0

    @property
    def reached(self) -> bool:
        return self.achieved >= self.asked * RATE_TOLERANCE

    def summary(self, unit: str) -> str:
        if not self.latencies:
            return f"asked {self.asked:g} {unit}/s, nothing sent"
        slow = ", NOT reached" if not self.reached else ""
        return (
            f"asked {self.asked:g} {unit}/s, achieved {self.achieved:.1f}/s{slow} "
            f"({self.items:,} in {self.seconds:.1f} s); {len(self.latencies):,} requests, "
            f"answer p50 {_ms(self.latencies, 0.5)}, p95 {_ms(self.latencies, 0.95)}, "
            f"max {_ms(self.latencies, 1)}; behind schedule p95 {_ms(self.slips, 0.95)}, "
            f"max {_ms(self.slips, 1)}"
        )


def _ms(values: list[float], fraction: float) -> str:
    return f"{percentile(values, fraction) * 1000:.0f} ms"


@dataclass
class Outcome:
    events: Flow
    changes: Flow
    events_sent: int = 0
    events_accepted: int = 0
    events_refused: int = 0
    events_applied: int = 0
    changes_made: int = 0
    changes_failed: int = 0
    notifications_accepted: int = 0
    deliveries_received: int = 0
    deliveries_pending: int = 0
    deliveries_dead: int = 0
    acd_agents: int = 0
    teams_agents: int = 0
    mismatches: list[str] = field(default_factory=list)
    undrained: str = "?"  # what was still busy when the settle time ran out
    drain_seconds: float = 0.0

    @property
    def events_lost(self) -> int:
        return self.events_accepted - self.events_applied

    def failures(self) -> list[str]:
        """Why the run does not show what it was asked to (empty: it does)."""
        checks = [
            (self.events.reached, "agent event rate not reached"),
            (self.changes.reached, "Teams change rate not reached"),
            (not self.undrained, "not drained"),
            (self.events_refused == 0, "agent events refused"),
            (self.events_lost == 0, "agent events lost"),
            (self.changes_failed == 0, "Teams changes failed"),
            (self.deliveries_dead == 0, "ACD deliveries dead"),
            (not self.mismatches, "agents mismatch their rule"),
        ]
        return [reason for passed, reason in checks if not passed]

    @property
    def clean(self) -> bool:
        return not self.failures()

    def report(self) -> str:
        failures = self.failures()
        lines = [
            f"agent events: {self.events.summary('events')}",
            f"Teams changes: {self.changes.summary('changes')}",
            f"NOT drained {self.drain_seconds:.0f} s after sending: {self.undrained}"
            if self.undrained
            else f"drained {self.drain_seconds:.0f} s after sending",
            f"agent events: sent {self.events_sent:,}, accepted {self.events_accepted:,}, "
            f"refused {self.events_refused:,}, applied {self.events_applied:,}, "
            f"lost {self.events_lost:,} ({self.acd_agents:,} ACD-driven agents)",
            f"Teams changes: made {self.changes_made:,}, failed {self.changes_failed:,}; "
            f"webhook accepted {self.notifications_accepted:,} notifications; "
            f"ACD deliveries received {self.deliveries_received:,}, pending "
            f"{self.deliveries_pending:,}, dead {self.deliveries_dead:,} "
            f"({self.teams_agents:,} Teams-driven agents)",
            f"mismatches: {len(self.mismatches):,}",
            *[f"  {line}" for line in self.mismatches[:SHOWN_MISMATCHES]],
            "RESULT: " + ("clean" if not failures else "FAILED: " + "; ".join(failures)),
        ]
        return "\n".join(lines)


class _InFlight:
    """The agents with a request queued or out, so none gets a second one meanwhile."""

    def __init__(self, agents: list[BenchAgent]) -> None:
        self.agents = agents
        self.taken: set[str] = set()
        self.changed = threading.Condition()

    def take(self, count: int, rng: random.Random) -> list[BenchAgent]:
        """Up to ``count`` random free agents (waits for one when none is free)."""
        if not self.agents:
            raise ValueError("no agents of this kind: run the soak with at least 2 agents")
        with self.changed:
            while len(self.taken) >= len(self.agents):
                self.changed.wait()
            free = [agent for agent in self.agents if agent.external_id not in self.taken]
            chosen = rng.sample(free, min(count, len(free)))
            self.taken.update(agent.external_id for agent in chosen)
            return chosen

    def give_back(self, agents: list[BenchAgent]) -> None:
        with self.changed:
            self.taken.difference_update(agent.external_id for agent in agents)
            self.changed.notify_all()


def _paced(
    flow: Flow,
    requests_due: int,
    per_second: float,
    senders: int,
    session: Callable[[], requests.Session],
    make: Callable[[], Any],
    send: Callable[[requests.Session, Any], None],
) -> None:
    """``requests_due`` times, ``per_second``: ``make()`` a request when it is due and hand
    it to one of ``senders`` threads, which ``send`` it. Records each request's slip and
    answer time in ``flow``; returns when every request is answered."""
    due: queue.SimpleQueue = queue.SimpleQueue()

    def sender() -> None:
        own = session()
        while (item := due.get()) is not None:
            due_at, made = item
            started = time.monotonic()
            send(own, made)
            answered = time.monotonic()
            with _counting:
                flow.slips.append(max(0.0, started - due_at))
                flow.latencies.append(answered - started)

    threads = [threading.Thread(target=sender, daemon=True) for _ in range(senders)]
    for thread in threads:
        thread.start()
    started = time.monotonic()
    for number in range(requests_due):
        due_at = started + number / per_second
        wait = due_at - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        due.put((due_at, make()))
    for _ in threads:
        due.put(None)
    for thread in threads:
        thread.join()
    flow.seconds = time.monotonic() - started


def _send_events(running: Running, agents: list[BenchAgent], args, rng, outcome, last) -> None:
    """Batches of events for random ACD-driven agents; ``last[external_id]`` = (sequence,
    state) of the newest event the API accepted."""
    url = f"{running.stack.web_url}/api/v1/agent-events"
    in_flight = _InFlight(agents)
    sequences: dict[str, int] = {}
    previous: dict[str, str] = {}
    batches = max(1, round(args.seconds * args.event_rate / args.batch))

    def make() -> tuple[list[BenchAgent], list[dict]]:
        chosen, events = in_flight.take(args.batch, rng), []
        for agent in chosen:
            key = agent.external_id
            previous[key] = rng.choice([s for s in PUBLISHED if s != previous.get(key)])
            sequences[key] = sequences.get(key, 0) + 1
            events.append({"agent": key, "state": previous[key], "interaction": "none",
                           "occurred_at": datetime.now(UTC).isoformat(),
                           "sequence": sequences[key]})  # fmt: skip
        return chosen, events

    def send(session: requests.Session, made: tuple[list[BenchAgent], list[dict]]) -> None:
        chosen, events = made
        with _counting:
            outcome.events_sent += len(events)
            outcome.events.items += len(events)
        try:
            response = session.post(url, data=json.dumps({"events": events}), timeout=30,
                                    headers={"Content-Type": "application/json"})  # fmt: skip
            accepted = response.json()["accepted"] if response.status_code == 202 else None
        except (OSError, ValueError, KeyError):  # no answer, or not the JSON the API sends
            accepted = None
        with _counting:
            if accepted is None:
                outcome.events_refused += len(events)
            else:
                outcome.events_accepted += accepted
                for event in events:
                    newest = last.get(event["agent"], (0, ""))
                    if event["sequence"] > newest[0]:
                        last[event["agent"]] = (event["sequence"], event["state"])
        in_flight.give_back(chosen)

    def session() -> requests.Session:
        return api_session(running)

    _paced(outcome.events, batches, args.event_rate / args.batch, EVENT_SENDERS, session,
           make, send)  # fmt: skip


def _send_changes(running: Running, agents: list[BenchAgent], args, rng, outcome, last) -> None:
    """Presence changes for random Teams-driven agents; ``last[external_id]`` = availability."""
    tenant = running.scenario.tenant_id
    in_flight = _InFlight(agents)
    previous: dict[str, str] = {}
    changes = max(1, round(args.seconds * args.change_rate))

    def make() -> tuple[BenchAgent, str]:
        (agent,) = in_flight.take(1, rng)
        key = agent.external_id
        previous[key] = rng.choice([a for a in TEAMS_PAIRS if a != previous.get(key)])
        return agent, previous[key]

    def send(session: requests.Session, made: tuple[BenchAgent, str]) -> None:
        agent, availability = made
        url = f"{running.sim.base_url}/_sim/tenants/{tenant}/users/{agent.user_id}/presence"
        with _counting:
            outcome.changes.items += 1
        try:
            response = session.post(url, timeout=30, json={
                "availability": availability, "activity": TEAMS_PAIRS[availability]})  # fmt: skip
            ok = response.status_code == 200
        except OSError:
            ok = False
        with _counting:
            if ok:
                outcome.changes_made += 1
                last[agent.external_id] = availability
            else:
                outcome.changes_failed += 1
        in_flight.give_back([agent])

    def session() -> requests.Session:
        return trusted_session(running.sim.ca_path)

    _paced(outcome.changes, changes, args.change_rate, CHANGE_SENDERS, session, make, send)


def _drain(running: Running, settle: float) -> str:
    """Wait until nothing is queued, unapplied or undelivered, a few checks in a row.

    Returns what was still busy at the deadline ("" when it drained)."""
    quiet, left, deadline = 0, "", time.monotonic() + settle
    while time.monotonic() < deadline:
        queued = running.stack.queued()
        unapplied = AgentEvent.objects.filter(processed_at__isnull=True).count()
        pending = AcdDelivery.objects.filter(status=AcdDelivery.Status.PENDING).count()
        left = f"{queued:,} tasks queued, {unapplied:,} events unapplied, {pending:,} pending"
        quiet = 0 if queued or unapplied or pending else quiet + 1
        if quiet >= QUIET_CHECKS:
            return ""
        time.sleep(1)
    return left


def _check(running: Running, acd_last: dict, teams_last: dict, by_id: dict, outcome) -> None:
    users = running.sim.control("GET", f"/tenants/{running.scenario.tenant_id}/users")["value"]
    presence = {u["id"]: u.get("presence") or {} for u in users}
    for external_id, state in sorted(acd_last.items()):
        shown = presence.get(by_id[external_id].user_id, {})
        seen = (shown.get("availability"), shown.get("activity"))
        if seen != PUBLISHED[state]:
            outcome.mismatches.append(f"{external_id}: ACD {state} → Teams shows {seen}, "
                                      f"the rule says {PUBLISHED[state]}")  # fmt: skip
    newest: dict[str, tuple[str, int, dict]] = {}
    for arrival in running.receiver.taken():
        payload = arrival.payload
        external_id = payload["agent"]["external_id"]
        outcome.deliveries_received += 1
        # Deliveries may overtake each other; the ACD orders them by occurred_at (then id).
        key = (payload["occurred_at"], payload["id"], payload)
        if external_id not in newest or key[:2] > newest[external_id][:2]:
            newest[external_id] = key
    for external_id, availability in sorted(teams_last.items()):
        expected = SUBSCRIBED[availability]
        got = newest.get(external_id)
        state = (got[2]["acd_state"], got[2]["reason_code"]) if got else None
        if state != expected:
            outcome.mismatches.append(f"{external_id}: Teams {availability} → ACD got {state}, "
                                      f"the rule says {expected}")  # fmt: skip
    for external_id in sorted(set(newest) & set(acd_last)):
        outcome.mismatches.append(f"{external_id}: ACD-driven, yet the ACD was sent "
                                  f"{newest[external_id][2]['acd_state']}")  # fmt: skip
    manual = AgentPresence.objects.filter(manual_in_teams=True).values_list(
        "agent__external_id", flat=True
    )
    outcome.mismatches += [f"{e}: flagged 'manual status in Teams'" for e in manual]


def run(running: Running, args: argparse.Namespace) -> Outcome:
    """Send both kinds of traffic at once, drain, check. Side effects: the whole product's."""
    outcome = Outcome(events=Flow(args.event_rate), changes=Flow(args.change_rate))
    agents = running.scenario.agents
    half = len(agents) // 2
    acd_agents, teams_agents = agents[:half], agents[half:]
    acd_last: dict[str, tuple[int, str]] = {}
    teams_last: dict[str, str] = {}
    threads = [
        threading.Thread(target=_send_events, args=(running, acd_agents, args,
                         random.Random(args.seed), outcome, acd_last)),
        threading.Thread(target=_send_changes, args=(running, teams_agents, args,
                         random.Random(args.seed + 100), outcome, teams_last)),
    ]  # fmt: skip
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    sent = time.monotonic()
    outcome.undrained = _drain(running, args.settle)
    outcome.drain_seconds = time.monotonic() - sent
    outcome.acd_agents, outcome.teams_agents = len(acd_last), len(teams_last)
    outcome.events_applied = AgentEvent.objects.filter(processed_at__isnull=False).count()
    outcome.notifications_accepted = sum(
        WebhookCounter.objects.filter(name="accepted").values_list("count", flat=True)
    )
    outcome.deliveries_pending = AcdDelivery.objects.filter(
        status=AcdDelivery.Status.PENDING
    ).count()
    outcome.deliveries_dead = AcdDelivery.objects.filter(status=AcdDelivery.Status.DEAD).count()
    states = {external_id: state for external_id, (_, state) in acd_last.items()}
    _check(running, states, teams_last, {a.external_id: a for a in agents}, outcome)
    return outcome
