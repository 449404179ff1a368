"""Minting the JWTs the simulator issues (RS256, its own key): access tokens,
id tokens, ``client_info`` and notification validation tokens. Graph checks
access tokens in graphsim.core.auth."""

from __future__ import annotations

import base64
import json
import secrets
import time
from typing import Any

import jwt

from graphsim import GRAPH_RESOURCE, NOTIFICATION_PUBLISHER_APP_ID
from graphsim.core.auth import sts_issuer
from graphsim.core.certs import SigningKey
from graphsim.core.state import App, Tenant, User

ACCESS_TOKEN_LIFETIME = 3599


def _uti() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(16)).rstrip(b"=").decode()


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
