"""Typed reads of the tenant's own configuration for setup checks: the app
registration, its service principal's granted application permissions, the
delegated permissions consented for it, the security-defaults policy and a
user's directory roles (docs/graph.md, "Setup checks").

Every function raises the client's errors: PermissionDenied when the app may not
read that part of the tenant, NotFound for a wrong id, and the rest.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from graph.client import GraphClient
from graph.directory import PasswordCredential

# Microsoft Graph's own application id; its service principal in every tenant
# names the app roles and delegated scopes that assignments and grants refer to.
GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
SINGLE_TENANT = "AzureADMyOrg"


def _odata_string(value: str) -> str:
    return value.strip().replace("'", "''")


@dataclass(frozen=True)
class AppRegistration:
    """The parts of ``GET /applications/{object-id}`` setup checks look at."""

    object_id: str
    app_id: str
    display_name: str
    sign_in_audience: str
    redirect_uris: tuple[str, ...]
    secrets: tuple[PasswordCredential, ...]

    @classmethod
    def from_graph(cls, item: dict[str, Any]) -> AppRegistration:
        web = item.get("web") or {}
        return cls(
            object_id=str(item.get("id") or ""),
            app_id=str(item.get("appId") or "").lower(),
            display_name=str(item.get("displayName") or ""),
            sign_in_audience=str(item.get("signInAudience") or ""),
            redirect_uris=tuple(str(u) for u in web.get("redirectUris") or ()),
            secrets=tuple(
                PasswordCredential.from_graph(c) for c in item.get("passwordCredentials") or ()
            ),
        )


@dataclass(frozen=True)
class ServicePrincipal:
    """An app's identity in the tenant; Graph's lists the permissions it offers
    (``app_roles`` and ``scopes``: permission id → name)."""

    id: str
    app_id: str
    display_name: str
    app_roles: dict[str, str]
    scopes: dict[str, str]

    @classmethod
    def from_graph(cls, item: dict[str, Any]) -> ServicePrincipal:
        return cls(
            id=str(item.get("id") or ""),
            app_id=str(item.get("appId") or "").lower(),
            display_name=str(item.get("displayName") or ""),
            app_roles={str(r.get("id")): str(r.get("value")) for r in item.get("appRoles") or ()},
            scopes={
                str(s.get("id")): str(s.get("value"))
                for s in item.get("oauth2PermissionScopes") or ()
            },
        )


@dataclass(frozen=True)
class DirectoryRole:
    display_name: str
    role_template_id: str


def read_application(client: GraphClient, object_id: str) -> AppRegistration:
    """``GET /applications/{object-id}`` (Application.Read.All)."""
    path = f"/applications/{quote(object_id.strip(), safe='')}"
    select = "id,appId,displayName,signInAudience,web,passwordCredentials"
    return AppRegistration.from_graph(client.get(path, {"$select": select}) or {})


def find_service_principal(client: GraphClient, app_id: str) -> ServicePrincipal | None:
    """The service principal of the app with client id ``app_id``; None when the
    app has none in this tenant (nobody consented to it yet)."""
    params = {"$filter": f"appId eq '{_odata_string(app_id)}'"}
    body = client.get("/servicePrincipals", params) or {}
    items = body.get("value") or []
    return ServicePrincipal.from_graph(items[0]) if items else None


def granted_app_roles(client: GraphClient, sp_id: str) -> list[str]:
    """The app-role ids granted to service principal ``sp_id``
    (``GET /servicePrincipals/{id}/appRoleAssignments``)."""
    path = f"/servicePrincipals/{quote(sp_id, safe='')}/appRoleAssignments"
    return [str(a.get("appRoleId")) for page in client.iter_pages(path) for a in page]


def consented_scopes(client: GraphClient, sp_id: str) -> set[str]:
    """The delegated permissions consented for every user (``consentType``
    AllPrincipals) of service principal ``sp_id``, from
    ``GET /oauth2PermissionGrants?$filter=clientId eq '{sp-id}'``."""
    params = {"$filter": f"clientId eq '{_odata_string(sp_id)}'"}
    scopes: set[str] = set()
    for page in client.iter_pages("/oauth2PermissionGrants", params):
        for grant in page:
            if grant.get("consentType") == "AllPrincipals":
                scopes.update(str(grant.get("scope") or "").split())
    return scopes


def security_defaults_enabled(client: GraphClient) -> bool:
    """``GET /policies/identitySecurityDefaultsEnforcementPolicy`` → ``isEnabled``
    (Policy.Read.All)."""
    body = client.get("/policies/identitySecurityDefaultsEnforcementPolicy") or {}
    return bool(body.get("isEnabled"))


def user_directory_roles(client: GraphClient, user: str) -> list[DirectoryRole]:
    """The directory roles ``user`` (id or UPN) holds, directly or through groups
    (``GET /users/{id}/transitiveMemberOf/microsoft.graph.directoryRole``)."""
    path = (
        f"/users/{quote(user.strip(), safe='@')}/transitiveMemberOf/microsoft.graph.directoryRole"
    )
    return [
        DirectoryRole(str(r.get("displayName") or ""), str(r.get("roleTemplateId") or ""))
        for page in client.iter_pages(path)
        for r in page
    ]
