"""Control API: tenants, app registrations and their client secrets."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

from werkzeug.wrappers import Request

from graphsim.applications import application_json
from graphsim.control.common import (
    ID,
    TENANT,
    ControlError,
    ControlRoute,
    body_of,
    route,
    tenant_of,
)
from graphsim.core.errors import iso, parse_iso, utcnow
from graphsim.core.seed import build_app, build_tenant, make_secret_value
from graphsim.core.sim import Sim
from graphsim.core.state import DNS_RE, App, Secret, Tenant, new_id

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
        "sign_in_audience": app.sign_in_audience,
        "redirect_uris": app.redirect_uris,
        "secrets": application_json(app)["passwordCredentials"],
    }
    if secret is not None:
        view["client_secret"] = secret
        view["secret_key_id"] = app.secrets[-1].key_id
        view["secret_expires_at"] = iso(app.secrets[-1].end)
    return view


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
    sim.remove_tenant(tenant)
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
        if "sign_in_audience" in body:
            app.sign_in_audience = str(body["sign_in_audience"])
        if "redirect_uris" in body:
            app.redirect_uris = [str(uri) for uri in body["redirect_uris"] or []]
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
        value = make_secret_value(random.Random())
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


_APP = rf"/_sim/tenants/{TENANT}/apps/(?P<c>{ID})"
ROUTES: list[ControlRoute] = [
    route("POST", r"/_sim/tenants", create_tenant),
    route("GET", r"/_sim/tenants", list_tenants),
    route("DELETE", rf"/_sim/tenants/{TENANT}", delete_tenant),
    route("POST", rf"/_sim/tenants/{TENANT}/apps", create_app, keeps=True),
    route("GET", _APP, get_app),
    route("PATCH", _APP, update_app, keeps=True),
    route("DELETE", _APP, delete_app, keeps=True),
    route("POST", rf"{_APP}/secrets", add_secret, keeps=True),
    route("PATCH", rf"{_APP}/secrets/(?P<k>{ID})", update_secret, keeps=True),
    route("DELETE", rf"{_APP}/secrets/(?P<k>{ID})", delete_secret, keeps=True),
]
