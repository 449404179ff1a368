"""The control API under ``/_sim/`` (loopback clients only): create tenants,
apps and users, act as a user in Teams, inject faults, fire lifecycle events
and read the call log. JSON in, JSON out; errors are ``{"error": "..."}``."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from werkzeug.wrappers import Request, Response

from graphsim import control_chat, errors, presence, seed
from graphsim.apps import application_json
from graphsim.control_common import ControlError, body_of, tenant_of
from graphsim.control_directory import (
    create_group,
    create_user,
    delete_user,
    list_groups,
    list_users,
    set_mfa,
    set_presence,
    update_user,
)
from graphsim.errors import GraphError, iso, json_response, parse_iso, utcnow
from graphsim.seed import build_app, build_tenant, make_secret_value
from graphsim.sim import LIFECYCLE_EVENTS, Sim
from graphsim.state import DNS_RE, App, Secret, Tenant, new_id

MAX_GENERATED_USERS = 200_000


def _app(tenant: Tenant, client_id: str) -> App:
    app = tenant.apps.get(client_id.lower())
    if app is None:
        raise ControlError(404, f"no app {client_id} in tenant {tenant.id}")
    return app


def _when(value: Any, default: timedelta) -> Any:
    if value is None:
        return utcnow() + default
    parsed = parse_iso(value)
    if parsed is None:
        raise ControlError(400, f"not an ISO-8601 time: {value!r}")
    return parsed


def app_view(app: App, secret: str | None = None) -> dict[str, Any]:
    """An app's ids, consent and secrets (values only when just created)."""
    view: dict[str, Any] = {
        "client_id": app.client_id,
        "object_id": app.object_id,
        "display_name": app.display_name,
        "permissions": app.permissions,
        "delegated": app.delegated,
        "secrets": application_json(app)["passwordCredentials"],
    }
    if secret is not None:
        view["client_secret"] = secret
        view["secret_key_id"] = app.secrets[-1].key_id
        view["secret_expires_at"] = iso(app.secrets[-1].end)
    return view


# --- handlers ------------------------------------------------------------------------


def health(sim: Sim, req: Request) -> tuple[int, Any]:
    return 200, {
        "status": "ok",
        "tenants": len(sim.store.all_tenants()),
        "unsaved_tenants": sim.tenant_files.unsaved(),
        "time": iso(utcnow()),
    }


def create_tenant(sim: Sim, req: Request) -> tuple[int, Any]:
    body = body_of(req)
    domain = str(body.get("domain") or "").lower()
    if not DNS_RE.match(domain):
        raise ControlError(400, "domain must be a DNS name such as contoso.example")
    count = int(body.get("users", 25))
    if not 0 <= count <= MAX_GENERATED_USERS:
        raise ControlError(400, f"users must be between 0 and {MAX_GENERATED_USERS}")
    if sim.store.tenant(domain) is not None:
        raise ControlError(409, f"a tenant with domain {domain} exists")
    tenant = build_tenant(
        str(body.get("name") or domain), domain, count, body.get("seed", new_id())
    )
    if body.get("tenant_id"):
        tenant.id = str(body["tenant_id"]).lower()
    if sim.store.tenant(tenant.id) is not None:
        raise ControlError(409, f"tenant {tenant.id} exists")
    sim.store.add_tenant(tenant)
    return 201, {"tenant_id": tenant.id, "domain": tenant.domain, "name": tenant.name}


def list_tenants(sim: Sim, req: Request) -> tuple[int, Any]:
    tenants = sim.store.all_tenants()
    return 200, {
        "value": [{"tenant_id": t.id, "domain": t.domain, "name": t.name} for t in tenants]
    }


def delete_tenant(sim: Sim, req: Request, t: str) -> tuple[int, Any]:
    tenant = tenant_of(sim, t)
    for sub in sim.registry.of_tenant(tenant.id):
        sim.registry.remove(sub.id)
    sim.store.remove_tenant(tenant)
    return 204, None


def create_app(sim: Sim, req: Request, t: str) -> tuple[int, Any]:
    body = body_of(req)
    tenant = tenant_of(sim, t)
    with tenant.lock:
        app, secret = build_app(
            tenant,
            display_name=str(body.get("display_name") or "ccbridge"),
            permissions=list(body.get("permissions") or []),
            delegated=list(body.get("delegated") or []),
            secret_expires_at=_when(body.get("secret_expires_at"), timedelta(days=180)),
            seed=body.get("seed"),
        )
        return 201, app_view(app, secret)


def get_app(sim: Sim, req: Request, t: str, c: str) -> tuple[int, Any]:
    tenant = tenant_of(sim, t)
    with tenant.lock:
        return 200, app_view(_app(tenant, c))


def update_app(sim: Sim, req: Request, t: str, c: str) -> tuple[int, Any]:
    body = body_of(req)
    tenant = tenant_of(sim, t)
    with tenant.lock:
        app = _app(tenant, c)
        if "permissions" in body:
            app.permissions = list(body["permissions"] or [])
        if "delegated" in body:
            app.delegated = list(body["delegated"] or [])
        if "display_name" in body:
            app.display_name = str(body["display_name"])
        if "secret_expires_at" in body:
            end = _when(body["secret_expires_at"], timedelta(days=180))
            for secret in app.secrets:
                secret.end = end
        return 200, app_view(app)


def delete_app(sim: Sim, req: Request, t: str, c: str) -> tuple[int, Any]:
    tenant = tenant_of(sim, t)
    with tenant.lock:
        tenant.apps.pop(_app(tenant, c).client_id)
    return 204, None


def add_secret(sim: Sim, req: Request, t: str, c: str) -> tuple[int, Any]:
    body = body_of(req)
    tenant = tenant_of(sim, t)
    with tenant.lock:
        app = _app(tenant, c)
        value = make_secret_value(seed.random.Random())
        secret = Secret(
            key_id=new_id(),
            value=value,
            display_name=str(body.get("display_name") or "rotated"),
            start=utcnow(),
            end=_when(body.get("expires_at"), timedelta(days=180)),
        )
        if body.get("replace"):
            app.secrets.clear()
        app.secrets.append(secret)
        return 201, {"client_secret": value, "key_id": secret.key_id, "expires_at": iso(secret.end)}


def update_secret(sim: Sim, req: Request, t: str, c: str, k: str) -> tuple[int, Any]:
    body = body_of(req)
    tenant = tenant_of(sim, t)
    with tenant.lock:
        for secret in _app(tenant, c).secrets:
            if secret.key_id == k.lower():
                secret.end = _when(body.get("expires_at"), timedelta(days=180))
                return 200, secret.graph()
    raise ControlError(404, f"no secret {k}")


def delete_secret(sim: Sim, req: Request, t: str, c: str, k: str) -> tuple[int, Any]:
    tenant = tenant_of(sim, t)
    with tenant.lock:
        app = _app(tenant, c)
        app.secrets = [s for s in app.secrets if s.key_id != k.lower()]
    return 204, None


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


def lifecycle(sim: Sim, req: Request, s: str) -> tuple[int, Any]:
    event = body_of(req).get("event")
    if event not in LIFECYCLE_EVENTS:
        raise ControlError(400, f"event must be one of {', '.join(LIFECYCLE_EVENTS)}")
    sub = sim.registry.get(s)
    if sub is None:
        raise ControlError(404, f"no subscription {s}")
    return 202, {"queued": sim.lifecycle(sub, event)}


def list_subscriptions(sim: Sim, req: Request) -> tuple[int, Any]:
    wanted = req.args.get("tenant")
    tenant = sim.store.tenant(wanted) if wanted else None
    subs = sim.registry.of_tenant(tenant.id) if tenant else list(sim.registry.subs.values())
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


def advance_clock(sim: Sim, req: Request) -> tuple[int, Any]:
    seconds = float(body_of(req).get("seconds", 0))
    if seconds < 0:
        raise ControlError(400, "the clock only moves forward")
    now = errors.advance_clock(seconds)
    presence.expire_all(sim)
    sim.registry.drop_expired()
    return 200, {"now": iso(now)}


def reset_clock(sim: Sim, req: Request) -> tuple[int, Any]:
    errors.reset_clock()
    return 204, None


def deliveries(sim: Sim, req: Request) -> tuple[int, Any]:
    return 200, {"value": list(sim.notifier.log.entries)}


Route = tuple[str, re.Pattern[str], Callable[..., tuple[int, Any]]]
_T, _ID = r"(?P<t>[^/]+)", r"[^/]+"
ROUTES: list[Route] = [
    (m, re.compile(p), h)
    for m, p, h in [
        ("GET", r"/_sim/health", health),
        ("POST", r"/_sim/tenants", create_tenant),
        ("GET", r"/_sim/tenants", list_tenants),
        ("DELETE", rf"/_sim/tenants/{_T}", delete_tenant),
        ("POST", rf"/_sim/tenants/{_T}/apps", create_app),
        ("GET", rf"/_sim/tenants/{_T}/apps/(?P<c>{_ID})", get_app),
        ("PATCH", rf"/_sim/tenants/{_T}/apps/(?P<c>{_ID})", update_app),
        ("DELETE", rf"/_sim/tenants/{_T}/apps/(?P<c>{_ID})", delete_app),
        ("POST", rf"/_sim/tenants/{_T}/apps/(?P<c>{_ID})/secrets", add_secret),
        ("PATCH", rf"/_sim/tenants/{_T}/apps/(?P<c>{_ID})/secrets/(?P<k>{_ID})", update_secret),
        ("DELETE", rf"/_sim/tenants/{_T}/apps/(?P<c>{_ID})/secrets/(?P<k>{_ID})", delete_secret),
        ("GET", rf"/_sim/tenants/{_T}/users", list_users),
        ("POST", rf"/_sim/tenants/{_T}/users", create_user),
        ("PATCH", rf"/_sim/tenants/{_T}/users/(?P<u>{_ID})", update_user),
        ("DELETE", rf"/_sim/tenants/{_T}/users/(?P<u>{_ID})", delete_user),
        ("POST", rf"/_sim/tenants/{_T}/users/(?P<u>{_ID})/presence", set_presence),
        ("POST", rf"/_sim/tenants/{_T}/users/(?P<u>{_ID})/mfa", set_mfa),
        ("POST", rf"/_sim/tenants/{_T}/groups", create_group),
        ("GET", rf"/_sim/tenants/{_T}/groups", list_groups),
        ("POST", r"/_sim/faults", add_fault),
        ("GET", r"/_sim/faults", list_faults),
        ("DELETE", r"/_sim/faults", clear_faults),
        ("POST", r"/_sim/subscriptions/(?P<s>[^/]+)/lifecycle", lifecycle),
        ("GET", r"/_sim/subscriptions", list_subscriptions),
        ("GET", r"/_sim/calls", calls),
        ("GET", r"/_sim/deliveries", deliveries),
        ("POST", r"/_sim/clock", advance_clock),
        ("DELETE", r"/_sim/clock", reset_clock),
        *control_chat.ROUTES,
    ]
]


# Handlers whose changes are kept across a restart (graphsim.persist); users
# added, changed or removed are noted by the tenant itself.
DIRECTORY_CHANGES = frozenset(
    [create_app, update_app, delete_app, add_secret, update_secret, delete_secret, update_user,
     set_mfa, create_group]
)  # fmt: skip


def _note_change(sim: Sim, ident: str) -> None:
    tenant = sim.store.tenant(ident)
    if tenant is not None:
        with tenant.lock:
            tenant.changed()


def _is_loopback(addr: str | None) -> bool:
    return bool(addr) and (addr == "::1" or str(addr).startswith("127."))


def handle(sim: Sim, request: Request, base: str) -> Response:
    """Answer a ``/_sim/`` request; only loopback clients are served (403 otherwise)."""
    if not _is_loopback(request.remote_addr):
        return json_response({"error": "the control API only answers loopback clients"}, 403)
    path = request.path.rstrip("/")
    try:
        for method, pattern, handler in ROUTES:
            match = pattern.fullmatch(path)
            if match and method == request.method:
                status, body = handler(sim, request, **match.groupdict())
                if handler in DIRECTORY_CHANGES:
                    _note_change(sim, match.group("t"))
                if body is None:
                    return Response(status=status)
                return json_response(body, status)
        raise ControlError(404, f"no control endpoint {request.method} {path}")
    except ControlError as err:
        return json_response({"error": str(err)}, err.status)
    except GraphError as err:
        return json_response({"error": err.message}, err.status)
