"""Control API for subscriptions: list them, fire lifecycle events, lose change
notifications, read what was delivered to notification URLs."""

from __future__ import annotations

from typing import Any

from werkzeug.wrappers import Request

from graphsim.control.common import ControlError, ControlRoute, body_of, route
from graphsim.core.sim import Sim
from graphsim.subscriptions.registry import LIFECYCLE_EVENTS, registry


def lifecycle(sim: Sim, req: Request, s: str) -> tuple[int, Any]:
    event = body_of(req).get("event")
    if event not in LIFECYCLE_EVENTS:
        raise ControlError(400, f"event must be one of {', '.join(LIFECYCLE_EVENTS)}")
    subs = registry(sim)
    sub = subs.get(s)
    if sub is None:
        raise ControlError(404, f"no subscription {s}")
    return 202, {"queued": subs.lifecycle(sub, event)}


def lose_notifications(sim: Sim, req: Request, s: str) -> tuple[int, Any]:
    """The next ``count`` change notifications of subscription ``s`` are lost."""
    count = body_of(req).get("count")
    if not isinstance(count, int) or isinstance(count, bool) or not 0 < count <= 10_000:
        raise ControlError(400, "count must be a whole number from 1 to 10000")
    subs = registry(sim)
    sub = subs.get(s)
    if sub is None:
        raise ControlError(404, f"no subscription {s}")
    return 202, {"losing": subs.notifier.lose(sub.id, count)}


def list_subscriptions(sim: Sim, req: Request) -> tuple[int, Any]:
    wanted = req.args.get("tenant")
    tenant = sim.store.tenant(wanted) if wanted else None
    subs = registry(sim).of_tenant(tenant.id) if tenant else list(registry(sim).subs.values())
    return 200, {
        "value": [
            {
                **s.graph(""),
                "clientState": s.client_state,
                "tenantId": s.tenant_id,
                "watched": sorted(s.user_ids),
            }
            for s in subs
        ]
    }


def deliveries(sim: Sim, req: Request) -> tuple[int, Any]:
    return 200, {"value": list(registry(sim).notifier.log.entries)}


ROUTES: list[ControlRoute] = [
    route("POST", r"/_sim/subscriptions/(?P<s>[^/]+)/lifecycle", lifecycle),
    route("POST", r"/_sim/subscriptions/(?P<s>[^/]+)/lose-notifications", lose_notifications),
    route("GET", r"/_sim/subscriptions", list_subscriptions),
    route("GET", r"/_sim/deliveries", deliveries),
]
