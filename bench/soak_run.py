"""The soak's traffic and its final check (see bench/soak.py).

Two senders run at once for the given time, each paced to its rate: agent
events in batches through the API for the ACD-driven half of the agents, and
presence changes through the simulator's control API for the Teams-driven
half (each change differs from that user's previous one, so each is a real
change Graph announces). Every value sent is remembered per agent; after the
product has drained, the last one is what the rule must show.
"""

from __future__ import annotations

import argparse
import json
import random
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from bench.harness import Running
from bench.latency import api_session, paced
from bench.scenario import PUBLISHED, SUBSCRIBED, BenchAgent
from bench.simulator import trusted_session
from presence.sync_models import AcdDelivery, AgentEvent, AgentPresence, WebhookCounter

# Senders per kind, each on its own agents (so each agent's order is kept): one request
# at a time per sender, and a request may wait for a busy machine.
EVENT_SENDERS = 4
CHANGE_SENDERS = 4
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
class Outcome:
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
    drained: bool = False
    send_seconds: float = 0.0
    drain_seconds: float = 0.0

    @property
    def events_lost(self) -> int:
        return self.events_accepted - self.events_applied

    @property
    def clean(self) -> bool:
        return (
            self.drained
            and self.events_refused == 0
            and self.events_lost == 0
            and self.changes_failed == 0
            and self.deliveries_dead == 0
            and not self.mismatches
        )

    def report(self) -> str:
        lines = [
            f"sent for {self.send_seconds:.0f} s ({self.events_sent / self.send_seconds:.0f} "
            f"events/s, {self.changes_made / self.send_seconds:.0f} changes/s achieved), "
            f"drained in {self.drain_seconds:.0f} s" + ("" if self.drained else " (NOT drained)"),
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
            "RESULT: " + ("clean" if self.clean else "FAILED"),
        ]
        return "\n".join(lines)


def _send_events(running: Running, agents: list[BenchAgent], args, rng, outcome, last) -> None:
    """Batches of events for random ACD-driven agents; ``last[external_id]`` = last state."""
    session = api_session(running)
    url = f"{running.stack.web_url}/api/v1/agent-events"
    sequences: dict[str, int] = {}
    batches = max(1, round(args.seconds * args.event_rate / args.batch / EVENT_SENDERS))

    def send(_number: int) -> None:
        events, states = [], {}
        for agent in rng.sample(agents, min(args.batch, len(agents))):
            choices = [s for s in PUBLISHED if s != last.get(agent.external_id)]
            states[agent.external_id] = rng.choice(choices)
            sequences[agent.external_id] = sequences.get(agent.external_id, 0) + 1
            events.append({"agent": agent.external_id, "state": states[agent.external_id],
                           "interaction": "none", "occurred_at": datetime.now(UTC).isoformat(),
                           "sequence": sequences[agent.external_id]})  # fmt: skip
        with _counting:
            outcome.events_sent += len(events)
        try:
            response = session.post(url, data=json.dumps({"events": events}), timeout=30,
                                    headers={"Content-Type": "application/json"})  # fmt: skip
        except OSError:
            response = None
        with _counting:
            if response is None or response.status_code != 202:
                outcome.events_refused += len(events)
                return
            outcome.events_accepted += response.json()["accepted"]
        last.update(states)

    paced(batches, args.event_rate / args.batch / EVENT_SENDERS, send)


def _send_changes(running: Running, agents: list[BenchAgent], args, rng, outcome, last) -> None:
    """Presence changes for random Teams-driven agents; ``last[external_id]`` = availability."""
    session = trusted_session(running.sim.ca_path)
    tenant = running.scenario.tenant_id
    changes = max(1, round(args.seconds * args.change_rate / CHANGE_SENDERS))

    def send(_number: int) -> None:
        agent = rng.choice(agents)
        availability = rng.choice([a for a in TEAMS_PAIRS if a != last.get(agent.external_id)])
        url = f"{running.sim.base_url}/_sim/tenants/{tenant}/users/{agent.user_id}/presence"
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

    paced(changes, args.change_rate / CHANGE_SENDERS, send)


def _drain(running: Running, settle: float) -> bool:
    """Wait until nothing is queued, unapplied or undelivered, a few checks in a row."""
    quiet, deadline = 0, time.monotonic() + settle
    while time.monotonic() < deadline:
        busy = (
            running.stack.queued()
            or AgentEvent.objects.filter(processed_at__isnull=True).exists()
            or AcdDelivery.objects.filter(status=AcdDelivery.Status.PENDING).exists()
        )
        quiet = 0 if busy else quiet + 1
        if quiet >= QUIET_CHECKS:
            return True
        time.sleep(1)
    return False


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
    outcome = Outcome()
    agents = running.scenario.agents
    half = len(agents) // 2
    acd_agents, teams_agents = agents[:half], agents[half:]
    acd_parts = [acd_agents[n::EVENT_SENDERS] for n in range(EVENT_SENDERS)]
    acd_lasts: list[dict[str, str]] = [{} for _ in acd_parts]
    teams_parts = [teams_agents[n::CHANGE_SENDERS] for n in range(CHANGE_SENDERS)]
    teams_lasts: list[dict[str, str]] = [{} for _ in teams_parts]
    threads = [
        *[threading.Thread(target=_send_events,
                           args=(running, part, args, random.Random(args.seed + n), outcome,
                                 last))
          for n, (part, last) in enumerate(zip(acd_parts, acd_lasts, strict=True))],
        *[threading.Thread(target=_send_changes,
                           args=(running, part, args, random.Random(args.seed + 100 + n),
                                 outcome, last))
          for n, (part, last) in enumerate(zip(teams_parts, teams_lasts, strict=True))],
    ]  # fmt: skip
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    outcome.send_seconds = time.monotonic() - started
    outcome.drained = _drain(running, args.settle)
    outcome.drain_seconds = time.monotonic() - started - outcome.send_seconds
    teams_last = {k: v for last in teams_lasts for k, v in last.items()}
    acd_last = {k: v for last in acd_lasts for k, v in last.items()}
    outcome.acd_agents, outcome.teams_agents = len(acd_last), len(teams_last)
    outcome.events_applied = AgentEvent.objects.filter(processed_at__isnull=False).count()
    outcome.notifications_accepted = sum(
        WebhookCounter.objects.filter(name="accepted").values_list("count", flat=True)
    )
    outcome.deliveries_pending = AcdDelivery.objects.filter(
        status=AcdDelivery.Status.PENDING
    ).count()
    outcome.deliveries_dead = AcdDelivery.objects.filter(status=AcdDelivery.Status.DEAD).count()
    _check(running, acd_last, teams_last, {a.external_id: a for a in agents}, outcome)
    return outcome
