"""Graph v1.0 routing: authenticate, find the handler, turn errors into
Graph's error JSON. Used for top-level requests and ``$batch`` items alike."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from graphsim.core.auth import verify_bearer
from graphsim.core.call import Call, Result
from graphsim.core.errors import GraphError, graph_error_body
from graphsim.core.sim import Fault, GraphRoute, Handler, Sim

FAULT_CODES = {
    400: "BadRequest",
    401: "InvalidAuthenticationToken",
    403: "Authorization_RequestDenied",
    404: "Request_ResourceNotFound",
    409: "Conflict",
    429: "TooManyRequests",
    500: "InternalServerError",
    502: "BadGateway",
    503: "ServiceUnavailable",
    504: "GatewayTimeout",
}


def error_result(call: Call, err: GraphError) -> Result:
    """A Result carrying Graph's error JSON for ``err``."""
    return Result(
        err.status,
        graph_error_body(err, call.request_id, call.client_request_id),
        dict(err.headers),
    )


def fault_error(fault: Fault) -> GraphError:
    """The Graph error an injected fault answers with."""
    status = fault.status or 500
    headers = {}
    if fault.retry_after is not None:
        value = fault.retry_after
        headers["Retry-After"] = str(int(value)) if float(value).is_integer() else str(value)
    return GraphError(
        status,
        fault.code or FAULT_CODES.get(status, "UnknownError"),
        fault.message or "Injected by graphsim.",
        headers=headers,
    )


class Router:
    """The Graph v1.0 routes of every registered area, in registration order."""

    def __init__(self, routes: Iterable[GraphRoute]) -> None:
        self._compiled = [(m, re.compile(p + r"/?", re.IGNORECASE), h) for m, p, h in routes]

    def route(self, method: str, path: str) -> tuple[Handler, dict[str, Any]]:
        """The handler and path parameters for a request; raises GraphError 405
        when only other methods match, 400 when nothing does."""
        allowed = False
        for route_method, pattern, handler in self._compiled:
            match = pattern.fullmatch(path)
            if match:
                if route_method == method:
                    return handler, {k: v for k, v in match.groupdict().items() if v is not None}
                allowed = True
        if allowed:
            raise GraphError(
                405, "Request_BadRequest", f"The requested method '{method}' is not allowed."
            )
        segment = path.strip("/").split("/")[0] or path
        raise GraphError(400, "BadRequest", f"Resource not found for the segment '{segment}'.")

    def dispatch(self, sim: Sim, call: Call) -> Result:
        """Authenticate ``call``, run its handler and return the Result (never raises
        GraphError: errors come back as Graph error Results)."""
        try:
            call.principal = verify_bearer(sim.store, sim.key, call.header("Authorization"))
            handler, params = self.route(call.method, call.path)
            return handler(sim, call, **params)
        except GraphError as err:
            return error_result(call, err)
