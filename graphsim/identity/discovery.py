"""Where clients find the identity platform: tenant lookup (by GUID or
domain), the OpenID configuration document and MSAL's user realm answer."""

from __future__ import annotations

from typing import Any

from graphsim.core.errors import IdentityError
from graphsim.core.state import DNS_RE, Store, Tenant, is_guid


def resolve_tenant(store: Store, ident: str) -> Tenant:
    """Find the tenant named in an identity URL.

    Raises IdentityError 900023 when ``ident`` is neither a GUID nor a DNS
    name, 90002 when no such tenant exists.
    """
    if not (is_guid(ident) or DNS_RE.match(ident)):
        raise IdentityError(
            900023,
            f"Specified tenant identifier '{ident}' is neither a valid DNS name, "
            "nor a valid external domain.",
        )
    tenant = store.tenant(ident)
    if tenant is None:
        raise IdentityError(
            90002,
            f"Tenant '{ident}' not found. Check to make sure you have the correct tenant ID "
            "and are signing into the correct cloud. Check with your subscription "
            "administrator, this may happen if there are no active subscriptions for the "
            "tenant.",
        )
    return tenant


def openid_configuration(base: str, tenant: Tenant) -> dict[str, Any]:
    """The v2.0 OpenID configuration document for ``tenant`` (endpoints use its GUID)."""
    root = f"{base}/{tenant.id}"
    return {
        "token_endpoint": f"{root}/oauth2/v2.0/token",
        "token_endpoint_auth_methods_supported": [
            "client_secret_post",
            "private_key_jwt",
            "client_secret_basic",
        ],
        "jwks_uri": f"{root}/discovery/v2.0/keys",
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "issuer": f"{root}/v2.0",
        "request_uri_parameter_supported": False,
        "userinfo_endpoint": f"{base}/oidc/userinfo",
        "authorization_endpoint": f"{root}/oauth2/v2.0/authorize",
        "device_authorization_endpoint": f"{root}/oauth2/v2.0/devicecode",
        "http_logout_supported": True,
        "frontchannel_logout_supported": True,
        "end_session_endpoint": f"{root}/oauth2/v2.0/logout",
        "claims_supported": [
            "sub", "iss", "aud", "exp", "iat", "auth_time", "acr", "nonce",
            "preferred_username", "name", "tid", "ver", "at_hash", "c_hash", "email",
        ],
        "tenant_region_scope": "EU",
        "cloud_instance_name": "microsoftonline.com",
        "cloud_graph_host_name": "graph.windows.net",
        "msgraph_host": "graph.microsoft.com",
        "rbac_url": "https://pas.windows.net",
    }  # fmt: skip


def user_realm(store: Store, username: str) -> dict[str, Any]:
    """MSAL's user realm discovery answer: every simulated domain is Managed."""
    domain = username.rpartition("@")[2].lower()
    known = store.tenant(domain) is not None if DNS_RE.match(domain) else False
    return {
        "ver": "1.0",
        "account_type": "Managed" if known else "Unknown",
        "domain_name": domain,
        "cloud_instance_name": "microsoftonline.com",
        "cloud_audience_urn": "urn:federation:MicrosoftOnline",
    }
