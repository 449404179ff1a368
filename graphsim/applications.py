"""Graph ``/applications``: the app registration and its password credentials."""

from __future__ import annotations

import re
from typing import Any

from graphsim.core.call import Call, Result
from graphsim.core.errors import GraphError
from graphsim.core.odata import parse_select, project
from graphsim.core.perms import Perms, require
from graphsim.core.sim import Area, Sim
from graphsim.core.state import App
from graphsim.users.resource import not_found

APP_PROPERTIES = frozenset(
    ["id", "appId", "displayName", "passwordCredentials", "keyCredentials", "signInAudience",
     "createdDateTime", "requiredResourceAccess", "web"]
)  # fmt: skip
APPLICATION_READ: Perms = (
    ("Application.Read.All", "Application.ReadWrite.All", "Directory.Read.All"),
    ("Application.Read.All", "Application.ReadWrite.All", "Directory.Read.All"),
)
APP_DEFAULT = (
    "id",
    "appId",
    "displayName",
    "passwordCredentials",
    "keyCredentials",
    "signInAudience",
)


def application_json(app: App) -> dict[str, Any]:
    """The Graph application resource for ``app``."""
    return {
        "id": app.object_id,
        "appId": app.client_id,
        "displayName": app.display_name,
        "passwordCredentials": [s.graph() for s in app.secrets],
        "keyCredentials": [],
        "signInAudience": app.sign_in_audience,
        "createdDateTime": None,
        "requiredResourceAccess": [],
        "web": {
            "homePageUrl": None,
            "logoutUrl": None,
            "redirectUris": list(app.redirect_uris),
            "implicitGrantSettings": {
                "enableAccessTokenIssuance": False,
                "enableIdTokenIssuance": False,
            },
        },
    }


def _respond(call: Call, app: App | None, ident: str) -> Result:
    if app is None:
        raise not_found(ident)
    select = parse_select(call.query, APP_PROPERTIES, APP_DEFAULT, "application")
    body = {"@odata.context": f"{call.graph_base}/$metadata#applications/$entity"}
    body.update(project(application_json(app), select))
    return Result(200, body)


def get_application(sim: Sim, call: Call, oid: str) -> Result:
    """``GET /applications/{object-id}`` (``$select=passwordCredentials`` etc.)."""
    require(call, APPLICATION_READ)
    tenant = call.p.tenant
    with tenant.lock:
        return _respond(call, tenant.app_by_object_id(oid), oid)


def get_application_by_app_id(sim: Sim, call: Call, appid: str) -> Result:
    """``GET /applications(appId='{client id}')``."""
    require(call, APPLICATION_READ)
    tenant = call.p.tenant
    with tenant.lock:
        return _respond(call, tenant.apps.get(appid.lower()), appid)


def list_applications(sim: Sim, call: Call) -> Result:
    """``GET /applications`` with an optional ``$filter=appId eq '…'``."""
    require(call, APPLICATION_READ)
    select = parse_select(call.query, APP_PROPERTIES, APP_DEFAULT, "application")
    wanted = None
    text = call.query.get("$filter")
    if text:
        match = re.fullmatch(r"\s*appId\s+eq\s+'([^']*)'\s*", text, re.IGNORECASE)
        if not match:
            raise GraphError(400, "Request_UnsupportedQuery", "Unsupported Query.")
        wanted = match.group(1).lower()
    tenant = call.p.tenant
    with tenant.lock:
        apps = [a for a in tenant.apps.values() if wanted is None or a.client_id == wanted]
        value = [project(application_json(a), select) for a in apps]
    return Result(
        200, {"@odata.context": f"{call.graph_base}/$metadata#applications", "value": value}
    )


AREA = Area(
    "applications",
    routes=[
        ("GET", r"/applications", list_applications),
        ("GET", r"/applications\(appId='(?P<appid>[^']+)'\)", get_application_by_app_id),
        ("GET", r"/applications/(?P<oid>[^/]+)", get_application),
    ],
)
