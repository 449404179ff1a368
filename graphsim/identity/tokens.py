"""Minting and checking the JWTs the simulator issues (RS256, its own key)."""

from __future__ import annotations

import base64
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

import jwt

from graphsim import GRAPH_APP_ID, GRAPH_RESOURCE, NOTIFICATION_PUBLISHER_APP_ID
from graphsim.certs import SigningKey
from graphsim.errors import GraphError
from graphsim.state import App, Store, Tenant, User

ACCESS_TOKEN_LIFETIME = 3599
GRAPH_AUDIENCES = (GRAPH_RESOURCE, GRAPH_RESOURCE + "/", GRAPH_APP_ID)


def _uti() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(16)).rstrip(b"=").decode()


def sts_issuer(tenant_id: str) -> str:
    """The v1.0 issuer that Graph access tokens carry."""
    return f"https://sts.windows.net/{tenant_id}/"


def sign(key: SigningKey, claims: dict[str, Any]) -> str:
    """Sign ``claims`` with the simulator key (``kid``/``x5t`` in the header)."""
    return jwt.encode(
        claims, key.private_key, algorithm="RS256", headers={"kid": key.kid, "x5t": key.kid}
    )


def app_access_token(key: SigningKey, tenant: Tenant, app: App) -> str:
    """An app-only Graph token: ``idtyp`` app, ``roles`` = consented app roles."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "aud": GRAPH_RESOURCE,
        "iss": sts_issuer(tenant.id),
        "iat": now,
        "nbf": now,
        "exp": now + ACCESS_TOKEN_LIFETIME,
        "app_displayname": app.display_name,
        "appid": app.client_id,
        "appidacr": "1",
        "idp": sts_issuer(tenant.id),
        "idtyp": "app",
        "oid": app.sp_object_id,
        "sub": app.sp_object_id,
        "tid": tenant.id,
        "uti": _uti(),
        "ver": "1.0",
    }
    if app.permissions:
        # Missing `roles` means nothing consented (docs/graph.md), so omit it when empty.
        claims["roles"] = sorted(app.permissions)
    return sign(key, claims)


def user_access_token(
    key: SigningKey, tenant: Tenant, app: App, user: User, scopes: list[str]
) -> str:
    """A delegated Graph token for ``user``: ``idtyp`` user, ``scp`` the scopes."""
    now = int(time.time())
    claims = {
        "aud": GRAPH_RESOURCE,
        "iss": sts_issuer(tenant.id),
        "iat": now,
        "nbf": now,
        "exp": now + ACCESS_TOKEN_LIFETIME,
        "amr": ["pwd"],
        "app_displayname": app.display_name,
        "appid": app.client_id,
        "appidacr": "1",
        "family_name": user.props.get("surname"),
        "given_name": user.props.get("givenName"),
        "idtyp": "user",
        "name": user.props.get("displayName"),
        "oid": user.id,
        "scp": " ".join(scopes),
        "sub": user.id,
        "tid": tenant.id,
        "unique_name": user.upn,
        "upn": user.upn,
        "uti": _uti(),
        "ver": "1.0",
    }
    return sign(key, claims)


def id_token(key: SigningKey, issuer: str, tenant: Tenant, app: App, user: User) -> str:
    """An OpenID Connect id token (v2.0) for the password grant."""
    now = int(time.time())
    return sign(
        key,
        {
            "aud": app.client_id,
            "iss": issuer,
            "iat": now,
            "nbf": now,
            "exp": now + ACCESS_TOKEN_LIFETIME,
            "name": user.props.get("displayName"),
            "oid": user.id,
            "preferred_username": user.upn,
            "sub": user.id,
            "tid": tenant.id,
            "ver": "2.0",
        },
    )


def client_info(tenant: Tenant, user: User) -> str:
    """MSAL's ``client_info``: base64url JSON of uid and utid."""
    raw = json.dumps({"uid": user.id, "utid": tenant.id}).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def validation_token(key: SigningKey, tenant_id: str, app_client_id: str) -> str:
    """A notification validation token, as Graph puts in ``validationTokens``.

    ``aud`` is the subscribing app; ``appid``/``azp`` are the Microsoft Graph
    change notification publisher; ``iss`` the tenant's v1.0 issuer.
    """
    now = int(time.time())
    return sign(
        key,
        {
            "aud": app_client_id,
            "iss": sts_issuer(tenant_id),
            "iat": now,
            "nbf": now,
            "exp": now + 8 * 3600,
            "appid": NOTIFICATION_PUBLISHER_APP_ID,
            "azp": NOTIFICATION_PUBLISHER_APP_ID,
            "appidacr": "2",
            "idp": sts_issuer(tenant_id),
            "tid": tenant_id,
            "uti": _uti(),
            "ver": "1.0",
        },
    )


@dataclass
class Principal:
    """Who is calling Graph, from a verified access token."""

    tenant: Tenant
    app: App
    kind: str  # "app" or "user"
    user_id: str | None = None
    roles: set[str] = field(default_factory=set)
    scopes: set[str] = field(default_factory=set)

    @property
    def client_id(self) -> str:
        return self.app.client_id

    @property
    def creator_id(self) -> str:
        """The id Graph reports as a subscription's ``creatorId``."""
        return self.user_id or self.app.sp_object_id

    def has_any(self, app_roles: tuple[str, ...], delegated: tuple[str, ...]) -> bool:
        """True when the token grants one of the listed permissions."""
        granted = self.roles if self.kind == "app" else self.scopes
        wanted = app_roles if self.kind == "app" else delegated
        return any(p in granted for p in wanted)


def _unauthorized(message: str) -> GraphError:
    return GraphError(
        401,
        "InvalidAuthenticationToken",
        message,
        headers={
            "WWW-Authenticate": (
                'Bearer realm="", authorization_uri="https://login.microsoftonline.com/'
                f'common/oauth2/authorize", client_id="{GRAPH_APP_ID}"'
            )
        },
    )


def verify_bearer(store: Store, key: SigningKey, authorization: str | None) -> Principal:
    """Check a Graph ``Authorization`` header and return the caller.

    Raises GraphError 401 ``InvalidAuthenticationToken`` when the token is
    missing, malformed, forged, expired, for another audience, or for a tenant
    or app that does not exist.
    """
    if not authorization or not authorization.lower().startswith("bearer "):
        raise _unauthorized("Access token is empty.")
    token = authorization[7:].strip()
    if not token:
        raise _unauthorized("Access token is empty.")
    if token.count(".") != 2:
        raise _unauthorized("IDX14100: JWT is not well formed, there are no dots (.).")
    public = key.private_key.public_key()
    try:
        claims = jwt.decode(
            token,
            public,
            algorithms=["RS256"],
            audience=list(GRAPH_AUDIENCES),
            options={"require": ["exp", "tid", "appid", "iss"]},
            leeway=0,
        )
    except jwt.ExpiredSignatureError:
        raise _unauthorized("Access token has expired or is not yet valid.") from None
    except jwt.InvalidAudienceError:
        raise _unauthorized("Access token validation failure. Invalid audience.") from None
    except jwt.PyJWTError:
        raise _unauthorized("Access token validation failure.") from None
    tenant = store.tenant(str(claims["tid"]))
    if tenant is None or claims["iss"] != sts_issuer(tenant.id):
        raise _unauthorized("Access token validation failure. Invalid issuer.")
    with tenant.lock:
        app = tenant.apps.get(str(claims["appid"]))
        if app is None:
            raise _unauthorized("Access token validation failure.")
        if claims.get("idtyp") == "user":
            user_id = str(claims.get("oid", ""))
            user = tenant.users.get(user_id)
            if user is None or not user.props.get("accountEnabled", True):
                raise _unauthorized("Access token validation failure.")
            scopes = set(str(claims.get("scp", "")).split())
            return Principal(tenant, app, "user", user_id=user_id, scopes=scopes)
    return Principal(tenant, app, "app", roles=set(claims.get("roles") or []))
