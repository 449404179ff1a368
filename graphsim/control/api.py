"""The control API under ``/_sim/`` (loopback clients only): create tenants,
apps and users, act as a user in Teams, inject faults, fire lifecycle events
and read the call log. JSON in, JSON out; errors are ``{"error": "..."}``.

graphsim.app lists the modules whose ``ROUTES`` it serves.
"""

from __future__ import annotations

from collections.abc import Iterable

from werkzeug.wrappers import Request, Response

from graphsim.control.common import ControlError, ControlRoute
from graphsim.core.errors import GraphError, json_response
from graphsim.core.sim import Sim


def _note_change(sim: Sim, ident: str) -> None:
    tenant = sim.store.tenant(ident)
    if tenant is not None:
        with tenant.lock:
            tenant.changed()


def _is_loopback(addr: str | None) -> bool:
    return bool(addr) and (addr == "::1" or str(addr).startswith("127."))


class ControlApi:
    """Answers ``/_sim/`` requests from the registered control routes."""

    def __init__(self, routes: Iterable[ControlRoute]) -> None:
        self.routes = list(routes)

    def __call__(self, sim: Sim, request: Request, base: str) -> Response:
        """Answer a ``/_sim/`` request; only loopback clients are served (403 otherwise)."""
        if not _is_loopback(request.remote_addr):
            return json_response({"error": "the control API only answers loopback clients"}, 403)
        path = request.path.rstrip("/")
        try:
            for method, pattern, handler, keeps in self.routes:
                match = pattern.fullmatch(path)
                if match and method == request.method:
                    status, body = handler(sim, request, **match.groupdict())
                    if keeps:
                        _note_change(sim, match.group("t"))
                    if body is None:
                        return Response(status=status)
                    return json_response(body, status)
            raise ControlError(404, f"no control endpoint {request.method} {path}")
        except ControlError as err:
            return json_response({"error": str(err)}, err.status)
        except GraphError as err:
            return json_response({"error": err.message}, err.status)
