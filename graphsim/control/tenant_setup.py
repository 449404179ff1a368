"""Control API for what setup checks read: the security-defaults policy, a user's
directory roles, and a subscription another server made with the same app.
(An app's sign-in audience and redirect URIs change through PATCH on the app.)"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from werkzeug.wrappers import Request

from graphsim.control.common import (
    ID,
    TENANT,
    ControlError,
    ControlRoute,
    body_of,
    route,
    tenant_of,
    user_of,
)
from graphsim.core.errors import utcnow
from graphsim.core.sim import Sim
from graphsim.core.state import new_id
from graphsim.subscriptions.registry import Subscription, registry


def set_security_defaults(sim: Sim, req: Request, t: str) -> tuple[int, Any]:
    """Turn security defaults on or off; on, every password sign-in demands MFA."""
    body = body_of(req)
    tenant = tenant_of(sim, t)
    with tenant.lock:
        tenant.security_defaults = bool(body.get("enabled", True))
        return 200, {"enabled": tenant.security_defaults}


def set_roles(sim: Sim, req: Request, t: str, u: str) -> tuple[int, Any]:
    """Replace a user's directory roles (display names, e.g. "Global Administrator")."""
    body = body_of(req)
    roles = body.get("roles")
    if not isinstance(roles, list):
        raise ControlError(400, "roles must be a list of role display names")
    tenant = tenant_of(sim, t)
    with tenant.lock:
        user = user_of(tenant, u)
        user.roles = [str(r) for r in roles]
        tenant.changed()
        return 200, {"id": user.id, "roles": user.roles}


def add_foreign_subscription(sim: Sim, req: Request, t: str, c: str) -> tuple[int, Any]:
    """Register a subscription of app ``c`` as if another server had made it (its
    notification URL validated there, so none is done here)."""
    body = body_of(req)
    tenant = tenant_of(sim, t)
    url = str(body.get("notification_url") or "")
    if not url.startswith("https://"):
        raise ControlError(400, "notification_url must be an https URL")
    with tenant.lock:
        app = tenant.apps.get(c.lower())
        if app is None:
            raise ControlError(404, f"no app {c} in tenant {tenant.id}")
    sub = Subscription(
        id=new_id(),
        tenant_id=tenant.id,
        client_id=app.client_id,
        creator_id=app.sp_object_id,
        delegated_user=None,
        resource=str(body.get("resource") or "/communications/presences"),
        user_ids=frozenset(),
        change_type="updated",
        notification_url=url,
        lifecycle_url=None,
        expiration=utcnow() + timedelta(minutes=int(body.get("minutes", 60))),
        client_state=None,
        include_resource_data=False,
        certificate=None,
        certificate_id=None,
        public_key=None,
        thumbprint=None,
    )
    registry(sim).add(sub)
    return 201, sub.graph("")


_TENANT = rf"/_sim/tenants/{TENANT}"
ROUTES: list[ControlRoute] = [
    route("PUT", rf"{_TENANT}/security-defaults", set_security_defaults, keeps=True),
    route("PUT", rf"{_TENANT}/users/(?P<u>{ID})/roles", set_roles, keeps=True),
    route("POST", rf"{_TENANT}/apps/(?P<c>{ID})/subscriptions", add_foreign_subscription),
]
