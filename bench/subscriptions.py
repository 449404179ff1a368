"""Presence subscriptions for N mapped agents, from the pure planner (no Graph, no database)."""

from __future__ import annotations

import math
import time

from bench.report import Row
from presence.subscription_plan import CAPACITY, plan

SIZES = (800, 5_000, 20_000)
SPARE_SLOTS = 5


def measure() -> list[Row]:
    rows = []
    for size in SIZES:
        expected = math.ceil(size / CAPACITY)
        # One idle slot per system user, a few more than needed, as a real pool has.
        slots: dict[int, set[str]] = {n: set() for n in range(expected + SPARE_SLOTS)}
        wanted = {f"user-{n:06d}" for n in range(size)}
        started = time.perf_counter()
        planned = plan(slots, wanted)
        seconds = time.perf_counter() - started
        subscriptions = sum(1 for members in planned.values() if members)
        # Every active subscription is renewed once per cycle (each lives ≤ 60 minutes).
        renewals = subscriptions
        placed = sum(len(members) for members in planned.values())
        rows.append(
            Row(
                f"subscriptions for {size:,} mapped agents",
                f"{subscriptions} subscriptions, {renewals} renewals per cycle "
                f"(planned in {seconds * 1000:.1f} ms)",
                f"exactly ceil(N/650) = {expected}; renewals per cycle = that number",
                subscriptions == expected == renewals and placed == size,
                {"subscriptions": subscriptions, "renewals": renewals, "placed": placed},
            )
        )
    return rows
