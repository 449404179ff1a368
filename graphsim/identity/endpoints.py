"""The identity platform's HTTP side: OpenID discovery, signing keys, the
v2.0 token endpoint, MSAL's user realm lookup and the error page."""

from __future__ import annotations

import base64
import re
from urllib.parse import unquote

from werkzeug.wrappers import Request, Response

from graphsim.core.errors import IdentityError, identity_error_response, json_response
from graphsim.core.server import Who
from graphsim.core.sim import Fault, Sim
from graphsim.identity.discovery import openid_configuration, resolve_tenant, user_realm
from graphsim.identity.grants import TokenService

_DISCOVERY = re.compile(r"^/(?P<t>[^/]+)(?:/v2\.0)?/\.well-known/openid-configuration$")
_KEYS = re.compile(r"^/(?P<t>[^/]+)/discovery(?:/v2\.0)?/keys$")
_TOKEN = re.compile(r"^/(?P<t>[^/]+)/oauth2(?:/v2\.0)?/token$")
_REALM = re.compile(r"^/common/userrealm/(?P<u>[^/]+)$")


class IdentityEndpoints:
    """Answers every request that is neither Graph nor the control API."""

    def __init__(self, sim: Sim) -> None:
        self.sim = sim
        self.tokens = TokenService(sim.store, sim.key)

    def __call__(
        self,
        request: Request,
        base: str,
        correlation_id: str,
        fault: Fault | None,
        who: Who,
    ) -> Response:
        """Answer one identity request; an IdentityError becomes Microsoft's
        AADSTS error response, an unknown path a 404."""
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
                body = self.tokens.token(base, unquote(m["t"]), form)
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
