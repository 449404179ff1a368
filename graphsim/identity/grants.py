"""The identity platform's v2.0 token endpoint: the client credentials,
password and refresh token grants with the error table of docs/graph.md
(status, ``error``, AADSTS code and text).
"""

from __future__ import annotations

import secrets
from typing import Any

from graphsim import GRAPH_APP_ID, GRAPH_RESOURCE
from graphsim.core.certs import SigningKey
from graphsim.core.errors import IdentityError, utcnow
from graphsim.core.state import App, Store, Tenant, User
from graphsim.identity.discovery import resolve_tenant
from graphsim.identity.tokens import (
    ACCESS_TOKEN_LIFETIME,
    app_access_token,
    client_info,
    id_token,
    user_access_token,
)

OIDC_SCOPES = ("openid", "profile", "email", "offline_access")
GRAPH_PREFIXES = (GRAPH_RESOURCE + "/", GRAPH_APP_ID + "/")


def _app_and_secret(tenant: Tenant, form: dict[str, str]) -> App:
    client_id = form.get("client_id", "").lower()
    app = tenant.apps.get(client_id)
    if app is None:
        raise IdentityError(
            700016,
            f"Application with identifier '{form.get('client_id', '')}' was not found in the "
            f"directory '{tenant.name}'. This can happen if the application has not been "
            "installed by the administrator of the tenant or consented to by any user in the "
            "tenant. You may have sent your authentication request to the wrong tenant.",
        )
    secret = form.get("client_secret")
    if not secret:
        raise IdentityError(
            7000218,
            "The request body must contain the following parameter: 'client_assertion' or "
            "'client_secret'.",
        )
    matching = [s for s in app.secrets if secrets.compare_digest(s.value, secret)]
    if not matching:
        raise IdentityError(
            7000215,
            "Invalid client secret provided. Ensure the secret being sent in the request is "
            "the client secret value, not the client secret ID, for a secret added to app "
            f"'{app.client_id}'.",
        )
    if all(s.end <= utcnow() for s in matching):
        raise IdentityError(
            7000222,
            f"The provided client secret keys for app '{app.client_id}' are expired. Visit "
            "the Azure portal to create new keys for your app: https://aka.ms/NewClientSecret, "
            "or consider using certificate credentials for added security: "
            "https://aka.ms/certCreds.",
        )
    return app


def _delegated_scopes(app: App, requested: str) -> tuple[list[str], list[str]]:
    """Split a requested scope string into granted Graph scopes and OIDC scopes.

    Raises 500011 for a resource other than Graph, 65001 for a scope the app has
    no consent for.
    """
    graph: list[str] = []
    oidc: list[str] = []
    for item in requested.split():
        if item in OIDC_SCOPES:
            oidc.append(item)
            continue
        prefix = next((p for p in GRAPH_PREFIXES if item.startswith(p)), None)
        name = item[len(prefix) :] if prefix else item
        if prefix is None and "/" in item:
            raise IdentityError(
                500011,
                f"The resource principal named {item.rsplit('/', 1)[0]} was not found in the "
                "tenant. This can happen if the application has not been installed by the "
                "administrator of the tenant or consented to by any user in the tenant.",
            )
        if name == ".default":
            graph.extend(s for s in app.delegated if s not in graph)
        elif name in app.delegated:
            if name not in graph:
                graph.append(name)
        else:
            raise IdentityError(
                65001,
                f"The user or administrator has not consented to use the application with ID "
                f"'{app.client_id}' named '{app.display_name}'. Send an interactive "
                "authorization request for this user and resource.",
            )
    return graph, oidc


class TokenService:
    """Issues tokens for the token endpoint; one per simulator."""

    def __init__(self, store: Store, key: SigningKey) -> None:
        self.store = store
        self.key = key

    def token(self, base: str, tenant_ident: str, form: dict[str, str]) -> dict[str, Any]:
        """Answer ``POST /{tenant}/oauth2/v2.0/token``; raises IdentityError."""
        tenant = resolve_tenant(self.store, tenant_ident)
        grant = form.get("grant_type", "")
        if not grant:
            raise IdentityError(
                900144, "The request body must contain the following parameter: 'grant_type'."
            )
        if grant not in ("client_credentials", "password", "refresh_token"):
            raise IdentityError(70003, f"The app requested an unsupported grant type '{grant}'.")
        with tenant.lock:
            app = _app_and_secret(tenant, form)
            if grant == "client_credentials":
                return self._client_credentials(tenant, app, form)
            if grant == "password":
                return self._password(base, tenant, app, form)
            return self._refresh(base, tenant, app, form)

    def _client_credentials(self, tenant: Tenant, app: App, form: dict[str, str]) -> dict:
        scope = form.get("scope", "").strip()
        if not scope:
            raise IdentityError(
                70011, "The provided request must include a 'scope' input parameter."
            )
        if scope not in (p + ".default" for p in GRAPH_PREFIXES):
            if scope.endswith("/.default"):
                raise IdentityError(
                    500011,
                    f"The resource principal named {scope[: -len('/.default')]} was not found "
                    "in the tenant.",
                )
            raise IdentityError(
                1002012,
                f"The provided value for scope {scope} is not valid. Client credential flows "
                "must have a scope value with /.default suffixed to the resource identifier "
                "(application ID URI).",
            )
        return {
            "token_type": "Bearer",
            "expires_in": ACCESS_TOKEN_LIFETIME,
            "ext_expires_in": ACCESS_TOKEN_LIFETIME,
            "access_token": app_access_token(self.key, tenant, app),
        }

    def _password(self, base: str, tenant: Tenant, app: App, form: dict[str, str]) -> dict:
        username, password = form.get("username", ""), form.get("password", "")
        user = tenant.find_user(username) if username else None
        if user is None:
            raise IdentityError(
                50034,
                f"The user account {{EUII Hidden}} does not exist in the {tenant.id} directory. "
                "To sign into this application, the account must be added to the directory.",
            )
        if user.password is None or not secrets.compare_digest(user.password, password):
            raise IdentityError(
                50126, "Error validating credentials due to invalid username or password."
            )
        if not user.props.get("accountEnabled", True):
            raise IdentityError(
                50057,
                "The user account is disabled. The user object in Active Directory backing "
                "this account has been disabled. An admin can re-enable this account through "
                "the Azure portal.",
            )
        if user.force_change:
            raise IdentityError(50055, "The password is expired.")
        if user.mfa_required or tenant.security_defaults:
            raise IdentityError(
                50076,
                "Due to a configuration change made by your administrator, or because you moved "
                "to a new location, you must use multi-factor authentication to access "
                f"'{GRAPH_APP_ID}'.",
            )
        scopes, oidc = _delegated_scopes(app, form.get("scope", ""))
        return self._user_tokens(base, tenant, app, user, scopes, oidc, form)

    def _refresh(self, base: str, tenant: Tenant, app: App, form: dict[str, str]) -> dict:
        grant = self.store.refresh_tokens.get(form.get("refresh_token", ""))
        if grant is None or grant["tenant"] != tenant.id or grant["client_id"] != app.client_id:
            raise IdentityError(9002313, "Invalid request. Request is malformed or invalid.")
        user = tenant.users.get(grant["user_id"])
        if user is None or not user.props.get("accountEnabled", True):
            raise IdentityError(
                50057, "The user account is disabled or no longer exists in the directory."
            )
        if user.mfa_required or tenant.security_defaults:
            raise IdentityError(
                50076,
                "Due to a configuration change made by your administrator, or because you moved "
                "to a new location, you must use multi-factor authentication to access "
                f"'{GRAPH_APP_ID}'.",
            )
        requested = form.get("scope") or " ".join(grant["scopes"])
        scopes, oidc = _delegated_scopes(app, requested)
        return self._user_tokens(base, tenant, app, user, scopes, oidc, form)

    def _user_tokens(
        self,
        base: str,
        tenant: Tenant,
        app: App,
        user: User,
        scopes: list[str],
        oidc: list[str],
        form: dict[str, str],
    ) -> dict[str, Any]:
        refresh = secrets.token_urlsafe(48)
        with self.store.lock:
            self.store.refresh_tokens[refresh] = {
                "tenant": tenant.id,
                "client_id": app.client_id,
                "user_id": user.id,
                "scopes": [GRAPH_RESOURCE + "/" + s for s in scopes],
            }
        granted = [GRAPH_RESOURCE + "/" + s for s in scopes]
        granted += [s for s in oidc if s in ("openid", "profile", "email")]
        body: dict[str, Any] = {
            "token_type": "Bearer",
            "scope": " ".join(granted),
            "expires_in": ACCESS_TOKEN_LIFETIME,
            "ext_expires_in": ACCESS_TOKEN_LIFETIME,
            "access_token": user_access_token(self.key, tenant, app, user, scopes),
            "refresh_token": refresh,
        }
        if "openid" in oidc:
            body["id_token"] = id_token(self.key, f"{base}/{tenant.id}/v2.0", tenant, app, user)
        if form.get("client_info") == "1":
            body["client_info"] = client_info(tenant, user)
        return body
