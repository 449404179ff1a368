"""How Graph checks a bearer token and who the caller is (the identity
platform that mints the tokens is graphsim.identity)."""

from __future__ import annotations

from dataclasses import dataclass, field

import jwt

from graphsim import GRAPH_APP_ID, GRAPH_RESOURCE
from graphsim.core.certs import SigningKey
from graphsim.core.errors import GraphError
from graphsim.core.state import App, Store, Tenant

GRAPH_AUDIENCES = (GRAPH_RESOURCE, GRAPH_RESOURCE + "/", GRAPH_APP_ID)


def sts_issuer(tenant_id: str) -> str:
    """The v1.0 issuer that Graph access tokens carry."""
    return f"https://sts.windows.net/{tenant_id}/"


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
