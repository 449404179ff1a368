"""The WSGI application: times and logs every request and sends it on.

Paths: ``/v1.0/…`` Graph (the router of the registered areas), ``/_sim/…``
the control API (loopback clients only), anything else the identity
platform. graphsim.app builds it with the identity and control handlers.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from typing import Any

from werkzeug.wrappers import Request, Response

from graphsim.core.call import Call
from graphsim.core.errors import iso7, json_response, utcnow
from graphsim.core.routing import Router, error_result, fault_error
from graphsim.core.sim import Fault, Sim

log = logging.getLogger("graphsim")

# Filled in with the calling app and tenant, for the call log.
Who = dict[str, str | None]
# (request, base URL, correlation id, fault to inject or None, who) -> response
IdentityHandler = Callable[[Request, str, str, Fault | None, Who], Response]
# (sim, request, base URL) -> response
ControlHandler = Callable[[Sim, Request, str], Response]


class GraphSimApp:
    """The WSGI callable. Every request is timed and appended to the call log."""

    def __init__(self, sim: Sim, *, identity: IdentityHandler, control: ControlHandler) -> None:
        self.sim = sim
        self.identity = identity
        self.control = control

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        response = self.handle(request)
        return response(environ, start_response)

    def handle(self, request: Request) -> Response:
        """Answer one request (never raises)."""
        started = time.monotonic()
        request_id = str(uuid.uuid4())
        client_request_id = request.headers.get("client-request-id") or request_id
        base = request.host_url.rstrip("/")
        path = request.path
        who: Who = {"app": None, "tenant": None}
        try:
            if path == "/_sim" or path.startswith("/_sim/"):
                response = self.control(self.sim, request, base)
            else:
                fault = self.sim.take_fault(request.method, path)
                if fault and fault.delay_ms:
                    time.sleep(fault.delay_ms / 1000)
                if path == "/v1.0" or path.startswith("/v1.0/"):
                    response = self._graph(request, base, request_id, client_request_id, fault, who)
                else:
                    response = self.identity(request, base, client_request_id, fault, who)
        except Exception:
            log.exception("unhandled error for %s %s", request.method, path)
            response = json_response(
                {"error": {"code": "InternalServerError", "message": "graphsim failed."}}, 500
            )
        if not path.startswith("/_sim"):
            self.sim.record_call(
                {
                    "time": iso7(utcnow()),
                    "method": request.method,
                    "path": path,
                    "query": request.query_string.decode("latin-1"),
                    "status": response.status_code,
                    "app": who["app"],
                    "tenant": who["tenant"],
                    "duration_ms": round((time.monotonic() - started) * 1000),
                }
            )
        return response

    def _graph(
        self,
        request: Request,
        base: str,
        request_id: str,
        client_request_id: str,
        fault: Fault | None,
        who: Who,
    ) -> Response:
        call = Call(
            method=request.method,
            path=request.path[len("/v1.0") :] or "/",
            query={k: v for k, v in request.args.items()},
            headers=dict(request.headers.items()),
            body=request.get_data(),
            base_url=base,
            request_id=request_id,
            client_request_id=client_request_id,
        )
        result = (
            error_result(call, fault_error(fault))
            if fault and fault.status
            else self.sim.service(Router).dispatch(self.sim, call)
        )
        if call.principal is not None:
            who["app"], who["tenant"] = call.principal.client_id, call.principal.tenant.id
        headers = {"request-id": request_id, "client-request-id": client_request_id}
        headers.update(result.headers)
        if result.body is None:
            return Response(status=result.status, headers=headers)
        if isinstance(result.body, bytes):
            # Raw content (a hosted content's $value); its Content-Type is in the headers.
            return Response(result.body, status=result.status, headers=headers)
        return json_response(result.body, result.status, headers)


def _quiet_werkzeug() -> None:
    # werkzeug logs every request at INFO; the call log is the record we keep.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)


_quiet_werkzeug()
