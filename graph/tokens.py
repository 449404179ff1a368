"""Access tokens from the Microsoft identity platform, through MSAL.

Two providers: :class:`AppTokenProvider` (client credentials, app-only Graph
tokens) and :class:`DelegatedTokenProvider` (a system user's password grant,
then its refresh token). Both keep MSAL's token cache serialisable so the
console can store it (encrypted: it holds tokens in clear text) and reuse
tokens across processes.

MSAL facts this module honours (docs/graph.md, "Identity platform"): the
application object performs OpenID discovery in its constructor, so it is
built lazily on the first ``acquire``; an unknown tenant fails there with a
bare ValueError; errors come back as dicts, except 5xx (MsalServiceError) and
network failures (requests exceptions).
"""

from __future__ import annotations

import base64
import binascii
import json
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, urlsplit

import msal
import requests
from msal.exceptions import MsalServiceError

from graph.config import AppCredentials, GraphConfig
from graph.errors import (
    AuthCause,
    AuthError,
    GraphError,
    Unavailable,
    auth_error_from_response,
    is_transient_identity_error,
    network_auth_error,
)
from graph.http import IdentityHttpClient, describe_network_error, make_session

DEFAULT_DELEGATED_SCOPES = ("https://graph.microsoft.com/Presence.Read.All",)


@dataclass(frozen=True)
class AccessToken:
    """A bearer token for Graph. ``expires_at`` is aware UTC; ``claims`` are the
    JWT's unverified claims (empty when the token is not a JWT)."""

    token: str = field(repr=False)
    expires_at: datetime
    claims: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)

    @property
    def roles(self) -> tuple[str, ...]:
        """Granted application permissions (``roles``); empty = nothing consented."""
        return tuple(str(r) for r in self.claims.get("roles") or ())

    @property
    def scopes(self) -> tuple[str, ...]:
        """Granted delegated permissions (``scp``, space-separated)."""
        return tuple(str(self.claims.get("scp") or "").split())

    def expires_within(self, delta: timedelta) -> bool:
        """True when the token expires within ``delta`` from now."""
        return self.expires_at - datetime.now(UTC) <= delta


def decode_claims(jwt: str) -> dict[str, Any]:
    """The payload of a JWT as a dict, without checking its signature (Graph
    checks that; we only read ``roles``/``scp``/``exp``). Raises ValueError when
    ``jwt`` is not three dot-separated parts with a base64url JSON object in the
    middle."""
    parts = jwt.split(".") if isinstance(jwt, str) else []
    if len(parts) != 3 or not parts[1]:
        raise ValueError("not a JWT: expected three dot-separated parts")
    payload = parts[1]
    try:
        raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
        claims = json.loads(raw)
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise ValueError(f"not a JWT: the payload is not base64url JSON ({exc})") from None
    if not isinstance(claims, dict):
        raise ValueError("not a JWT: the payload is not a JSON object")
    return claims


def _oauth_status(body: dict[str, Any]) -> int:
    # MSAL hands us the body without the status; OAuth fixes it by error kind.
    if body.get("error") == "invalid_client":
        return 401
    return 503 if is_transient_identity_error(body) else 400


class _MsalProvider:
    """What both providers share: the lazy MSAL app, the cache, error mapping."""

    def __init__(
        self,
        config: GraphConfig,
        credentials: AppCredentials,
        cache_state: str | None = None,
        session: requests.Session | None = None,
    ) -> None:
        self.config = config
        self.credentials = credentials
        self._cache = msal.SerializableTokenCache()
        if cache_state:
            try:
                self._cache.deserialize(cache_state)
            except ValueError:
                # A corrupt stored cache only costs one token request; never block sign-in.
                self._cache = msal.SerializableTokenCache()
        self._session = session or make_session(config)
        self._http = IdentityHttpClient(self._session, config.authority_host, config.timeout)
        self._app: msal.ConfidentialClientApplication | None = None
        self._lock = threading.RLock()
        self._last: AccessToken | None = None

    # --- public health information --------------------------------------------------

    @property
    def authority(self) -> str:
        """``{authority_host}/{tenant}`` (the tenant URL-quoted, so odd input stays
        one path segment and reaches Microsoft to be judged there)."""
        return f"{self.config.authority_host}/{quote(self.credentials.tenant.strip(), safe='')}"

    @property
    def token_expires_at(self) -> datetime | None:
        """When the newest known access token expires (from the last acquire, or
        from the stored cache); None when there is none."""
        if self._last is not None:
            return self._last.expires_at
        stamps = [
            int(at.get("expires_on", 0))
            for at in self._cache.search(msal.TokenCache.CredentialType.ACCESS_TOKEN)
        ]
        return datetime.fromtimestamp(max(stamps), UTC) if stamps else None

    @property
    def last_token(self) -> AccessToken | None:
        """The token the last successful ``acquire`` returned."""
        return self._last

    def cache_state(self) -> str | None:
        """The serialised MSAL token cache when it changed since it was loaded or
        last returned, else None. Contains tokens: store it encrypted."""
        with self._lock:
            return self._cache.serialize() if self._cache.has_state_changed else None

    def close(self) -> None:
        """Close the HTTP session (connections); the provider must not be used after."""
        self._session.close()

    # --- internals ----------------------------------------------------------------

    @property
    def _host(self) -> str:
        return urlsplit(self.config.authority_host).netloc

    def _application(self) -> msal.ConfidentialClientApplication:
        """Build the MSAL app on first use (its constructor performs discovery)."""
        if self._app is not None:
            return self._app
        if not self.credentials.complete:
            raise AuthError(
                "Account credentials are incomplete",
                cause=AuthCause.INCOMPLETE,
                sentence="The tenant, the client ID and the client secret are all required.",
            )
        try:
            self._app = msal.ConfidentialClientApplication(
                self.credentials.client_id.strip(),
                client_credential=self.credentials.client_secret,
                authority=self.authority,
                http_client=self._http,
                # Microsoft's hosts skip instance discovery anyway (MSAL knows them);
                # for any other host (simulator, proxy) it would call
                # login.microsoftonline.com, which must not happen. So always off.
                instance_discovery=False,
                token_cache=self._cache,
            )
        except ValueError as exc:
            raise self._discovery_error(exc) from exc
        except (requests.RequestException, MsalServiceError) as exc:
            raise self._transport_error(exc) from exc
        return self._app

    def _discovery_error(self, exc: ValueError) -> GraphError:
        """MSAL's ValueError hides the AADSTS code; ask the discovery URL ourselves."""
        url = f"{self.authority}/v2.0/.well-known/openid-configuration"
        try:
            response = self._http.get(url)
        except requests.RequestException as net:
            return network_auth_error(self._host, describe_network_error(net))
        try:
            body = response.json()
        except ValueError:
            body = None
        transient = isinstance(body, dict) and is_transient_identity_error(body)
        if response.status_code >= 500 or transient:
            return Unavailable(
                f"The identity platform at {self._host} answered HTTP {response.status_code}",
                reason=f"HTTP {response.status_code}",
                status=response.status_code,
            )
        if isinstance(body, dict) and body.get("error"):
            return auth_error_from_response(body, response.status_code)
        return AuthError(
            str(exc),
            cause=AuthCause.OTHER,
            status=response.status_code,
            sentence=(
                f"{self._host} did not describe this tenant (HTTP {response.status_code}). "
                "Check the identity platform URL and the Directory (tenant) ID."
            ),
        )

    def _transport_error(self, exc: Exception) -> GraphError:
        if isinstance(exc, requests.RequestException):
            return network_auth_error(self._host, describe_network_error(exc))
        # MsalServiceError: MSAL raises (instead of returning a dict) only for 5xx.
        return Unavailable(
            f"The identity platform at {self._host} failed: {exc}", reason="identity platform 5xx"
        )

    def _call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (requests.RequestException, MsalServiceError) as exc:
            raise self._transport_error(exc) from exc

    def _result(self, result: dict[str, Any]) -> AccessToken:
        """Turn MSAL's answer into an AccessToken or raise the matching error."""
        if "access_token" in result:
            token = str(result["access_token"])
            try:
                claims = decode_claims(token)
            except ValueError:
                claims = {}
            expires_in = int(result.get("expires_in") or 0)
            self._last = AccessToken(
                token, datetime.now(UTC) + timedelta(seconds=expires_in), claims
            )
            return self._last
        if is_transient_identity_error(result):
            raise Unavailable(
                f"The identity platform at {self._host} is temporarily unavailable",
                reason="identity platform temporarily unavailable",
                code=str(result.get("error") or ""),
                request_id=str(result.get("trace_id") or ""),
            )
        raise auth_error_from_response(result, _oauth_status(result))


class AppTokenProvider(_MsalProvider):
    """App-only tokens (client credentials) for Graph.

    ``cache_state`` is a previously returned :meth:`cache_state`; a valid token
    in it is reused without asking Microsoft. Building the provider does no I/O.
    """

    def __init__(
        self,
        config: GraphConfig,
        credentials: AppCredentials,
        cache_state: str | None = None,
        session: requests.Session | None = None,
    ) -> None:
        super().__init__(config, credentials, cache_state, session)

    def __repr__(self) -> str:
        client_id = self.credentials.client_id
        return f"AppTokenProvider(authority={self.authority!r}, client_id={client_id!r})"

    def acquire(self, force_refresh: bool = False) -> AccessToken:
        """A valid app token, from the cache when possible (MSAL treats a token
        with under 5 minutes left as expired). ``force_refresh`` drops cached
        tokens first, e.g. after Graph answered 401.

        Side effects: HTTP to the identity platform (discovery on first use, then
        the token endpoint on a cache miss); updates the token cache.
        Raises AuthError (with its cause) or Unavailable.
        """
        with self._lock:
            app = self._application()
            if force_refresh:
                # acquire_token_for_client has no force_refresh (MSAL refuses it).
                for item in list(
                    self._cache.search(
                        msal.TokenCache.CredentialType.ACCESS_TOKEN,
                        query={"client_id": self.credentials.client_id.strip()},
                    )
                ):
                    self._cache.remove_at(item)
            result = self._call(app.acquire_token_for_client, scopes=[self.config.app_scope])
            return self._result(result)


class DelegatedTokenProvider(_MsalProvider):
    """Delegated tokens for a system user (service account, MFA off).

    Uses the cached refresh token when there is one and falls back to the
    password grant (docs/graph.md: ``grant_type=password`` returns a refresh token
    too). ``scopes`` are Graph delegated scopes; MSAL adds ``offline_access``,
    ``openid`` and ``profile`` itself. Building the provider does no I/O.
    """

    def __init__(
        self,
        config: GraphConfig,
        credentials: AppCredentials,
        username: str,
        password: str,
        scopes: Sequence[str] = DEFAULT_DELEGATED_SCOPES,
        cache_state: str | None = None,
        session: requests.Session | None = None,
    ) -> None:
        super().__init__(config, credentials, cache_state, session)
        self.username = username.strip()
        self._password = password
        self.scopes = tuple(scopes)

    def __repr__(self) -> str:
        return f"DelegatedTokenProvider(authority={self.authority!r}, username={self.username!r})"

    def acquire(self, force_refresh: bool = False) -> AccessToken:
        """A valid delegated token: cached, else refreshed, else by password.

        Side effects: HTTP to the identity platform; updates the token cache.
        Raises AuthError (MFA_REQUIRED, WRONG_PASSWORD, …) or Unavailable.
        """
        with self._lock:
            app = self._application()
            accounts = self._call(app.get_accounts, username=self.username)
            if accounts:
                result = self._call(
                    app.acquire_token_silent_with_error,
                    list(self.scopes),
                    account=accounts[0],
                    force_refresh=force_refresh,
                )
                if result and ("access_token" in result or is_transient_identity_error(result)):
                    return self._result(result)
                # No usable refresh token (revoked, password changed…): sign in again.
            if not self.username or not self._password:
                raise AuthError(
                    "System user credentials are incomplete",
                    cause=AuthCause.INCOMPLETE,
                    sentence="The system user's name and password are both required.",
                )
            result = self._call(
                app.acquire_token_by_username_password,
                self.username,
                self._password,
                scopes=list(self.scopes),
            )
            return self._result(result)
