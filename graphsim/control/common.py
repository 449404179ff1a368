"""Helpers shared by the control API modules."""

from __future__ import annotations

import json
from typing import Any

from werkzeug.wrappers import Request

from graphsim.sim import Sim
from graphsim.state import Tenant, User


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
