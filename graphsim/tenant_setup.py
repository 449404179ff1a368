"""Graph reads of a tenant's own configuration, the ones a setup check makes:
service principals and their app-role assignments, delegated permission grants,
the security-defaults policy and a user's directory roles.

Microsoft Graph's own service principal lists its app roles and delegated scopes
with the ids of Microsoft's permissions reference, so a client can turn an
assignment's ``appRoleId`` into a permission name the way it must against Azure.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from graphsim import GRAPH_APP_ID
from graphsim.core.call import Call, Result
from graphsim.core.errors import GraphError
from graphsim.core.perms import Perms, require
from graphsim.core.sim import Area, Sim
from graphsim.core.state import App, Tenant
from graphsim.users.resource import not_found

# (permission, application role id, delegated scope id) from Microsoft Graph's
# permissions reference; None where Graph offers no such kind of the permission.
GRAPH_PERMISSIONS: tuple[tuple[str, str | None, str | None], ...] = (
    (
        "Application.Read.All",
        "9a5d68dd-52b0-4cc2-bd40-abcf44ac3a30",
        "c79f8feb-a9db-4090-85f9-90d820caa0eb",
    ),
    (
        "ChannelMessage.Read.All",
        "7b2449af-6ccd-4f4d-9f78-e550c193f0d1",
        "767156cb-16ae-4d10-8f8b-41b657c8c8c8",
    ),
    ("ChannelMessage.Send", None, "ebf0f66e-9fb1-49e4-a278-222f76911cf4"),
    ("Chat.ManageDeletion.All", None, "bb64e6fc-6b6d-4752-aea0-dd922dbba588"),
    ("Chat.Read.All", "6b7d71aa-70aa-4810-a8d9-5d9fb2830017", None),
    ("Chat.ReadWrite", None, "9ff7295e-131b-4d94-90e1-69fde507ac11"),
    ("Chat.ReadWrite.All", "294ce7c9-31ba-490a-ad7d-97a7d075e4ed", None),
    ("ChatMessage.Send", None, "116b7235-7cc6-461e-b163-8e55691d839e"),
    (
        "Directory.Read.All",
        "7ab1d382-f21e-4acd-a863-ba3e13f7da61",
        "06da0dbc-49e2-44d2-8312-53f166ab848a",
    ),
    (
        "Group.Read.All",
        "5b567255-7703-4780-807c-7be8301ae99b",
        "5f8c59db-677d-491f-a6b8-5f174b11ec1d",
    ),
    ("GroupMember.Read.All", "98830695-27a2-44f7-8c18-0c3ebc9698f6", None),
    ("Mail.ReadWrite", "e2a3a72e-5f79-4c64-b1b1-878b674786c9", None),
    ("Mail.Send", "b633e1c5-b582-4048-a93e-9f11b44c7e96", None),
    ("Policy.Read.All", "246dd0d5-5bd0-4def-940b-0421030a5b68", None),
    (
        "Presence.Read.All",
        "a70e0c2d-e793-494c-94c4-118fa0a67f42",
        "9c7a330d-35b3-4aa1-963d-cb2b9f927841",
    ),
    ("Presence.ReadWrite.All", "83cded22-8297-4ff6-a7fa-e97e9545a259", None),
    ("Subscription.Read.All", None, "5f88184c-80bb-4d52-9ff2-757288b2e9b7"),
    ("User.Read", None, "e1fe6dd8-ba31-4d61-89e7-88639da4683d"),
    (
        "User.Read.All",
        "df021288-bdef-4463-88db-98f22de89214",
        "a154be20-db9c-4678-8ab7-66f6cc099a59",
    ),
    ("User.ReadWrite.All", "741f803b-c850-494e-b5df-cde7c675a1ca", None),
)
# Directory role templates, by display name: the template IDs of Microsoft's "Microsoft
# Entra built-in roles" reference (learn.microsoft.com/entra/identity/
# role-based-access-control/permissions-reference).
ROLE_TEMPLATES = {
    "Global Administrator": "62e90394-69f5-4237-9190-012177145e10",
    "Teams Administrator": "69091246-20e8-4a56-aa4d-066075b2a7a8",
    "User Administrator": "fe930be7-5e62-47db-91af-98c3a49a38b1",
    "Global Reader": "f2ef992c-3afb-46b9-b7cf-a126ee74c451",
}
GRAPH_DISPLAY_NAME = "Microsoft Graph"

SP_READ: Perms = (
    ("Application.Read.All", "Application.ReadWrite.All", "Directory.Read.All"),
    ("Application.Read.All", "Directory.Read.All"),
)
GRANTS_READ: Perms = (
    ("Directory.Read.All", "DelegatedPermissionGrant.ReadWrite.All"),
    ("Directory.Read.All", "DelegatedPermissionGrant.ReadWrite.All"),
)
POLICY_READ: Perms = (("Policy.Read.All",), ("Policy.Read.All",))
ROLES_READ: Perms = (
    ("Directory.Read.All", "RoleManagement.Read.Directory", "RoleManagement.Read.All"),
    ("Directory.Read.All", "RoleManagement.Read.Directory"),
)


def _stable_id(tenant: Tenant, *parts: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "|".join(("graphsim", tenant.id, *parts))))


def graph_sp_id(tenant: Tenant) -> str:
    """The object id of Microsoft Graph's service principal in ``tenant``."""
    return _stable_id(tenant, "graph-sp")


def _graph_sp(tenant: Tenant) -> dict[str, Any]:
    return {
        "id": graph_sp_id(tenant),
        "appId": GRAPH_APP_ID,
        "displayName": GRAPH_DISPLAY_NAME,
        "servicePrincipalType": "Application",
        "appRoles": [
            {"id": role, "value": name, "allowedMemberTypes": ["Application"], "isEnabled": True}
            for name, role, _scope in GRAPH_PERMISSIONS
            if role
        ],
        "oauth2PermissionScopes": [
            {"id": scope, "value": name, "type": "Admin", "isEnabled": True}
            for name, _role, scope in GRAPH_PERMISSIONS
            if scope
        ],
    }


def _app_sp(app: App) -> dict[str, Any]:
    return {
        "id": app.sp_object_id,
        "appId": app.client_id,
        "displayName": app.display_name,
        "servicePrincipalType": "Application",
        "appRoles": [],
        "oauth2PermissionScopes": [],
    }


def _filter_value(call: Call, prop: str) -> str | None:
    text = call.query.get("$filter")
    if not text:
        return None
    match = re.fullmatch(rf"\s*{prop}\s+eq\s+'([^']*)'\s*", text, re.IGNORECASE)
    if not match:
        raise GraphError(400, "Request_UnsupportedQuery", "Unsupported Query.")
    return match.group(1).lower()


def list_service_principals(sim: Sim, call: Call) -> Result:
    """``GET /servicePrincipals?$filter=appId eq '…'`` (the app's own, or Graph's)."""
    require(call, SP_READ)
    wanted = _filter_value(call, "appId")
    tenant = call.p.tenant
    with tenant.lock:
        everything = [_graph_sp(tenant)] + [_app_sp(a) for a in tenant.apps.values()]
    value = [sp for sp in everything if wanted is None or sp["appId"] == wanted]
    context = f"{call.graph_base}/$metadata#servicePrincipals"
    return Result(200, {"@odata.context": context, "value": value})


def _app_by_sp(tenant: Tenant, sp_id: str) -> App | None:
    return next((a for a in tenant.apps.values() if a.sp_object_id == sp_id.lower()), None)


def app_role_assignments(sim: Sim, call: Call, sp: str) -> Result:
    """``GET /servicePrincipals/{id}/appRoleAssignments``: the application
    permissions granted to that service principal (admin consent)."""
    require(call, SP_READ)
    tenant = call.p.tenant
    roles = {name: role for name, role, _scope in GRAPH_PERMISSIONS if role}
    with tenant.lock:
        app = _app_by_sp(tenant, sp)
        if app is None:
            if sp.lower() == graph_sp_id(tenant):
                return Result(200, {"value": []})
            raise not_found(sp)
        value = [
            {
                "id": _stable_id(tenant, "assignment", app.client_id, name),
                "appRoleId": roles[name],
                "principalId": app.sp_object_id,
                "principalType": "ServicePrincipal",
                "principalDisplayName": app.display_name,
                "resourceId": graph_sp_id(tenant),
                "resourceDisplayName": GRAPH_DISPLAY_NAME,
            }
            for name in app.permissions
            if name in roles
        ]
    context = f"{call.graph_base}/$metadata#servicePrincipals('{sp}')/appRoleAssignments"
    return Result(200, {"@odata.context": context, "value": value})


def permission_grants(sim: Sim, call: Call) -> Result:
    """``GET /oauth2PermissionGrants?$filter=clientId eq '{sp id}'``: the delegated
    permissions consented for the whole tenant, one space-separated ``scope``."""
    require(call, GRANTS_READ)
    wanted = _filter_value(call, "clientId")
    tenant = call.p.tenant
    with tenant.lock:
        value = [
            {
                "id": _stable_id(tenant, "grant", app.client_id),
                "clientId": app.sp_object_id,
                "consentType": "AllPrincipals",
                "principalId": None,
                "resourceId": graph_sp_id(tenant),
                "scope": " ".join(app.delegated),
            }
            for app in tenant.apps.values()
            if app.delegated and (wanted is None or app.sp_object_id == wanted)
        ]
    context = f"{call.graph_base}/$metadata#oauth2PermissionGrants"
    return Result(200, {"@odata.context": context, "value": value})


def security_defaults(sim: Sim, call: Call) -> Result:
    """``GET /policies/identitySecurityDefaultsEnforcementPolicy``."""
    require(call, POLICY_READ)
    tenant = call.p.tenant
    with tenant.lock:
        enabled = tenant.security_defaults
    return Result(
        200,
        {
            "@odata.context": f"{call.graph_base}/$metadata#policies/"
            "identitySecurityDefaultsEnforcementPolicy/$entity",
            "id": "00000000-0000-0000-0000-000000000005",
            "displayName": "Security Defaults",
            "description": "Security defaults is a set of basic identity security mechanisms "
            "recommended by Microsoft.",
            "isEnabled": enabled,
        },
    )


def user_directory_roles(sim: Sim, call: Call, uid: str) -> Result:
    """``GET /users/{id}/transitiveMemberOf/microsoft.graph.directoryRole``."""
    require(call, ROLES_READ)
    tenant = call.p.tenant
    with tenant.lock:
        user = tenant.find_user(uid)
        if user is None:
            raise not_found(uid)
        value = [
            {
                "@odata.type": "#microsoft.graph.directoryRole",
                "id": _stable_id(tenant, "role", name),
                "displayName": name,
                "roleTemplateId": ROLE_TEMPLATES.get(name, _stable_id(tenant, "template", name)),
            }
            for name in user.roles
        ]
    context = f"{call.graph_base}/$metadata#directoryRoles"
    return Result(200, {"@odata.context": context, "value": value})


AREA = Area(
    "tenant_setup",
    routes=[
        ("GET", r"/servicePrincipals", list_service_principals),
        ("GET", r"/servicePrincipals/(?P<sp>[^/]+)/appRoleAssignments", app_role_assignments),
        ("GET", r"/oauth2PermissionGrants", permission_grants),
        ("GET", r"/policies/identitySecurityDefaultsEnforcementPolicy", security_defaults),
        (
            "GET",
            r"/users/(?P<uid>[^/]+)/transitiveMemberOf/microsoft\.graph\.directoryRole",
            user_directory_roles,
        ),
    ],
)
