"""The WSGI application and the HTTPS server around it.

Paths: ``/v1.0/…`` Graph, ``/{tenant}/…`` the identity platform,
``/_sim/…`` the control API (loopback clients only).
"""

from __future__ import annotations

import base64
import logging
import re
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from werkzeug.serving import BaseWSGIServer, make_server
from werkzeug.wrappers import Request, Response

from graphsim import control
from graphsim.call import Call
from graphsim.certs import ensure_tls_files, server_ssl_context
from graphsim.errors import IdentityError, identity_error_response, iso7, json_response, utcnow
from graphsim.identity import openid_configuration, resolve_tenant, user_realm
from graphsim.router import dispatch, error_result, fault_error
from graphsim.sim import Sim

log = logging.getLogger("graphsim")

_DISCOVERY = re.compile(r"^/(?P<t>[^/]+)(?:/v2\.0)?/\.well-known/openid-configuration$")
_KEYS = re.compile(r"^/(?P<t>[^/]+)/discovery(?:/v2\.0)?/keys$")
_TOKEN = re.compile(r"^/(?P<t>[^/]+)/oauth2(?:/v2\.0)?/token$")
_REALM = re.compile(r"^/common/userrealm/(?P<u>[^/]+)$")


class GraphSimApp:
    """The WSGI callable. Every request is timed and appended to the call log."""

    def __init__(self, sim: Sim) -> None:
        self.sim = sim

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
        who: dict[str, str | None] = {"app": None, "tenant": None}
        try:
            if path == "/_sim" or path.startswith("/_sim/"):
                response = control.handle(self.sim, request, base)
            else:
                fault = self.sim.take_fault(request.method, path)
                if fault and fault.delay_ms:
                    time.sleep(fault.delay_ms / 1000)
                if path == "/v1.0" or path.startswith("/v1.0/"):
                    response = self._graph(request, base, request_id, client_request_id, fault, who)
                else:
                    response = self._identity(request, base, client_request_id, fault, who)
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
        fault: Any,
        who: dict[str, str | None],
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
            else dispatch(self.sim, call)
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

    def _identity(
        self,
        request: Request,
        base: str,
        correlation_id: str,
        fault: Any,
        who: dict[str, str | None],
    ) -> Response:
        path = request.path
        try:
            if fault and fault.status:
                headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after else {}
                raise IdentityError(
                    90033,
                    "A transient error has occurred. Please try again.",
                    fault.status,
                    headers,
                )
            if request.method == "GET" and (m := _DISCOVERY.match(path)):
                tenant = resolve_tenant(self.sim.store, unquote(m["t"]))
                who["tenant"] = tenant.id
                return json_response(openid_configuration(base, tenant))
            if request.method == "GET" and (m := _KEYS.match(path)):
                if m["t"] != "common":
                    resolve_tenant(self.sim.store, unquote(m["t"]))
                return json_response({"keys": [self.sim.key.jwk()]})
            if request.method == "POST" and (m := _TOKEN.match(path)):
                form = dict(request.form.items())
                auth = request.headers.get("Authorization", "")
                if auth.lower().startswith("basic ") and "client_id" not in form:
                    decoded = base64.b64decode(auth[6:]).decode()
                    form["client_id"], _, form["client_secret"] = decoded.partition(":")
                who["app"] = form.get("client_id")
                tenant = self.sim.store.tenant(unquote(m["t"]))
                who["tenant"] = tenant.id if tenant else unquote(m["t"])
                body = self.sim.tokens.token(base, unquote(m["t"]), form)
                return json_response(
                    body, headers={"client-request-id": correlation_id, "Cache-Control": "no-store"}
                )
            if request.method == "GET" and (m := _REALM.match(path)):
                return json_response(user_realm(self.sim.store, unquote(m["u"])))
            if path == "/error":
                code = request.args.get("code", "")
                return Response(f"AADSTS{code}", content_type="text/plain; charset=utf-8")
            if path == "/":
                return json_response(
                    {"service": "graphsim", "authority_host": base, "graph": f"{base}/v1.0"}
                )
        except IdentityError as err:
            return identity_error_response(err, correlation_id, base)
        return json_response(
            {"error": "invalid_request", "error_description": f"No such endpoint: {path}"}, 404
        )


def build_server(host: str, port: int, data_dir: Path) -> tuple[BaseWSGIServer, Sim]:
    """Create (not start) the threaded HTTPS server and its simulator.

    Side effects: creates the CA, server certificate and signing key in
    ``data_dir`` when missing; binds the port (0 = pick a free one).
    """
    _, cert_path, key_path = ensure_tls_files(data_dir, host)
    sim = Sim(data_dir)
    server = make_server(
        host,
        port,
        GraphSimApp(sim),
        threaded=True,
        ssl_context=server_ssl_context(cert_path, key_path),
    )
    return server, sim


def _quiet_werkzeug() -> None:
    # werkzeug logs every request at INFO; the call log is the record we keep.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)


_quiet_werkzeug()
