"""Control API about the simulator itself: health, injected faults, the call
log and the simulated clock."""

from __future__ import annotations

import re
from typing import Any

from werkzeug.wrappers import Request

from graphsim.control.common import ControlError, ControlRoute, body_of, route
from graphsim.core.errors import advance_clock, iso, parse_iso, reset_clock, utcnow
from graphsim.core.sim import Sim


def health(sim: Sim, req: Request) -> tuple[int, Any]:
    return 200, {
        "status": "ok",
        "tenants": len(sim.store.all_tenants()),
        "unsaved_tenants": sim.tenant_files.unsaved(),
        "time": iso(utcnow()),
    }


def add_fault(sim: Sim, req: Request) -> tuple[int, Any]:
    try:
        return 201, sim.add_fault(body_of(req)).view()
    except (ValueError, re.error) as exc:
        raise ControlError(400, str(exc)) from None


def list_faults(sim: Sim, req: Request) -> tuple[int, Any]:
    return 200, {"value": [f.view() for f in sim.faults()]}


def clear_faults(sim: Sim, req: Request) -> tuple[int, Any]:
    sim.clear_faults()
    return 204, None


def calls(sim: Sim, req: Request) -> tuple[int, Any]:
    since = parse_iso(req.args.get("since")) if req.args.get("since") else None
    cutoff = since.timestamp() if since else 0.0
    tenant, app = req.args.get("tenant"), req.args.get("app")
    value = [
        {k: v for k, v in c.items() if not k.startswith("_")}
        for c in list(sim.calls)
        if c["_ts"] >= cutoff
        and (not tenant or c["tenant"] == tenant)
        and (not app or c["app"] == app)
    ]
    return 200, {"value": value}


def move_clock(sim: Sim, req: Request) -> tuple[int, Any]:
    seconds = float(body_of(req).get("seconds", 0))
    if seconds < 0:
        raise ControlError(400, "the clock only moves forward")
    now = advance_clock(seconds)
    sim.tick()
    return 200, {"now": iso(now)}


def restore_clock(sim: Sim, req: Request) -> tuple[int, Any]:
    reset_clock()
    return 204, None


ROUTES: list[ControlRoute] = [
    route("GET", r"/_sim/health", health),
    route("POST", r"/_sim/faults", add_fault),
    route("GET", r"/_sim/faults", list_faults),
    route("DELETE", r"/_sim/faults", clear_faults),
    route("GET", r"/_sim/calls", calls),
    route("POST", r"/_sim/clock", move_clock),
    route("DELETE", r"/_sim/clock", restore_clock),
]
