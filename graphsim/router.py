"""Graph v1.0 routing: authenticate, find the handler, turn errors into
Graph's error JSON. Used for top-level requests and ``$batch`` items alike."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from graphsim import apps, batch, chat, groups, presence, subscriptions, users
from graphsim.call import Call, Result
from graphsim.errors import GraphError, graph_error_body
from graphsim.tokens import verify_bearer

if TYPE_CHECKING:
    from graphsim.sim import Fault, Sim

Handler = Callable[..., Result]
_ME_OR_USER = r"(?:/users/(?P<uid>[^/]+)|/me)"
ROUTES: list[tuple[str, str, Handler]] = [
    ("GET", r"/users", users.list_users),
    ("POST", r"/users", users.create_user),
    ("GET", r"/users/delta(?:\(\))?", users.delta),
    ("GET", r"/me", users.get_me),
    ("GET", _ME_OR_USER + r"/presence", presence.get_presence),
    ("POST", _ME_OR_USER + r"/presence/setPresence", presence.set_presence),
    ("POST", _ME_OR_USER + r"/presence/clearPresence", presence.clear_presence),
    ("POST", _ME_OR_USER + r"/presence/setUserPreferredPresence", presence.set_preferred),
    ("POST", _ME_OR_USER + r"/presence/clearUserPreferredPresence", presence.clear_preferred),
    ("GET", r"/users/(?P<uid>[^/]+)", users.get_user),
    ("PATCH", r"/users/(?P<uid>[^/]+)", users.update_user),
    ("DELETE", r"/users/(?P<uid>[^/]+)", users.delete_user),
    ("GET", r"/groups/(?P<gid>[^/]+)/members", groups.group_members),
    ("GET", r"/applications", apps.list_applications),
    ("GET", r"/applications\(appId='(?P<appid>[^']+)'\)", apps.get_application_by_app_id),
    ("GET", r"/applications/(?P<oid>[^/]+)", apps.get_application),
    ("GET", r"/communications/presences", presence.list_presences),
    ("GET", r"/communications/presences/(?P<uid>[^/]+)", presence.get_presence),
    ("POST", r"/communications/getPresencesByUserId", presence.get_presences_by_user_id),
    ("GET", r"/subscriptions", subscriptions.list_all),
    ("POST", r"/subscriptions", subscriptions.create),
    ("GET", r"/subscriptions/(?P<sid>[^/]+)", subscriptions.get_one),
    ("PATCH", r"/subscriptions/(?P<sid>[^/]+)", subscriptions.update),
    ("DELETE", r"/subscriptions/(?P<sid>[^/]+)", subscriptions.delete),
    ("POST", r"/subscriptions/(?P<sid>[^/]+)/reauthorize", subscriptions.reauthorize),
    ("POST", r"/\$batch", batch.handle),
    *chat.ROUTES,
]
_COMPILED = [(m, re.compile(p + r"/?", re.IGNORECASE), h) for m, p, h in ROUTES]
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


def _route(method: str, path: str) -> tuple[Handler, dict[str, Any]]:
    allowed = False
    for route_method, pattern, handler in _COMPILED:
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


def dispatch(sim: Sim, call: Call) -> Result:
    """Authenticate ``call``, run its handler and return the Result (never raises
    GraphError: errors come back as Graph error Results)."""
    try:
        call.principal = verify_bearer(sim.store, sim.key, call.header("Authorization"))
        handler, params = _route(call.method, call.path)
        return handler(sim, call, **params)
    except GraphError as err:
        return error_result(call, err)
