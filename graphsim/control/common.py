"""What the control API modules share: the route type, errors and the
lookups of a request's body, tenant and user."""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable
from typing import Any, NamedTuple

from werkzeug.wrappers import Request

from graphsim.core.sim import Sim
from graphsim.core.state import Tenant, User

ControlHandler = Callable[..., tuple[int, Any]]
# Path parameters: ``t`` is always the tenant (its id or domain).
TENANT, ID = r"(?P<t>[^/]+)", r"[^/]+"


class ControlRoute(NamedTuple):
    """A control endpoint; a ``keeps`` one changes what graphsim.core.persist
    saves for tenant ``t`` (users added, changed or removed are noted by the
    tenant itself)."""

    method: str
    pattern: re.Pattern[str]
    handler: ControlHandler
    keeps: bool = False


def route(
    method: str, pattern: str, handler: ControlHandler, *, keeps: bool = False
) -> ControlRoute:
    """A ControlRoute for ``pattern`` (matched against the whole path)."""
    return ControlRoute(method, re.compile(pattern), handler, keeps)


class ControlError(Exception):
    """A control API failure with its HTTP status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def body_of(request: Request) -> dict[str, Any]:
    if not request.get_data():
        return {}
    try:
        body = json.loads(request.get_data())
    except ValueError:
        raise ControlError(400, "body is not JSON") from None
    if not isinstance(body, dict):
        raise ControlError(400, "body must be a JSON object")
    return body


def base64_of(spec: Any, what: str, shape: str) -> bytes:
    """The bytes of ``spec["base64"]``; 400 naming ``what`` and its ``shape`` otherwise."""
    if not isinstance(spec, dict) or not isinstance(spec.get("base64"), str):
        raise ControlError(400, f"{what} must be {shape}")
    try:
        return base64.b64decode(spec["base64"], validate=True)
    except (binascii.Error, ValueError):
        raise ControlError(400, f"{what}.base64 is not base64") from None


def tenant_of(sim: Sim, ident: str) -> Tenant:
    tenant = sim.store.tenant(ident)
    if tenant is None:
        raise ControlError(404, f"no tenant {ident}")
    return tenant


def user_of(tenant: Tenant, ident: str) -> User:
    user = tenant.find_user(ident)
    if user is None:
        raise ControlError(404, f"no user {ident}")
    return user
