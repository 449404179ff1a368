"""The typed errors graph/ raises, and how responses of Graph and of the
identity platform are turned into them.

Every error carries ``message``, ``status`` (HTTP, None when no response),
``code`` (Graph's ``error.code`` or OAuth's ``error``) and ``request_id`` (what
Microsoft support asks for). ``retryable`` tells a background job whether
trying again later can help.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Any, ClassVar

_AADSTS_RE = re.compile(r"AADSTS(\d+)")


class GraphError(Exception):
    """Base of every error raised by graph/."""

    retryable: ClassVar[bool] = False

    def __init__(
        self, message: str, *, status: int | None = None, code: str = "", request_id: str = ""
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.request_id = request_id

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword-only attributes would be lost by Exception's default pickling
        # (Celery and multiprocessing pickle errors); rebuild from the full state.
        return (_rebuild, (type(self), self.message, dict(self.__dict__)))

    def __str__(self) -> str:
        details = [f"HTTP {self.status}" if self.status else "", self.code]
        if self.request_id:
            details.append(f"request-id {self.request_id}")
        shown = ", ".join(d for d in details if d)
        return f"{self.message} ({shown})" if shown else self.message


def _rebuild(cls: type[GraphError], message: str, state: dict[str, Any]) -> GraphError:
    err = cls.__new__(cls)
    Exception.__init__(err, message)
    err.__dict__.update(state)
    return err


class AuthCause(StrEnum):
    """Why the identity platform did not issue a token, as the console explains it."""

    BAD_SECRET = "bad_secret"
    EXPIRED_SECRET = "expired_secret"
    APP_NOT_IN_TENANT = "app_not_in_tenant"
    TENANT_NOT_FOUND = "tenant_not_found"
    MALFORMED_TENANT = "malformed_tenant"
    MFA_REQUIRED = "mfa_required"
    WRONG_PASSWORD = "wrong_password"
    NETWORK = "network"
    INCOMPLETE = "incomplete"
    OTHER = "other"


class AuthError(GraphError):
    """The identity platform refused to issue a token, or could not be reached.

    ``aadsts`` is the AADSTS number when Microsoft gave one; ``sentence`` is a
    precise explanation with what to do about it, fit to show an administrator.
    """

    def __init__(
        self,
        message: str,
        *,
        cause: AuthCause,
        sentence: str,
        aadsts: int | None = None,
        status: int | None = None,
        code: str = "",
        request_id: str = "",
        correlation_id: str = "",
    ) -> None:
        super().__init__(message, status=status, code=code, request_id=request_id)
        self.cause = cause
        self.sentence = sentence
        self.aadsts = aadsts
        self.correlation_id = correlation_id

    @property
    def retryable(self) -> bool:  # type: ignore[override]
        # Only an unreachable identity platform can heal by itself.
        return self.cause is AuthCause.NETWORK


class PermissionDenied(GraphError):
    """403: the token lacks a permission (or a policy excludes the resource)."""


class NotFound(GraphError):
    """404: the addressed object does not exist."""


class Conflict(GraphError):
    """409: the object already exists or changed concurrently."""


class Throttled(GraphError):
    """429 that outlived our retries; ``retry_after`` is Graph's last hint (seconds)."""

    retryable = True

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class Unavailable(GraphError):
    """5xx after retries, a timeout, or a connection/TLS failure.

    ``reason`` is short and specific: ``"timed out"``, ``"connection refused"``,
    ``"TLS certificate not trusted"``, ``"HTTP 503"``…
    """

    retryable = True

    def __init__(self, message: str, *, reason: str = "", **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.reason = reason


class InvalidRequest(GraphError):
    """Any other 4xx: the request itself is wrong (a bug or bad input)."""


class InvalidToken(GraphError):
    """401 from Graph even after a fresh token."""


# --- the identity platform -----------------------------------------------------------

# AADSTS number -> (cause, what it means and what to do). The numbers Microsoft
# documents for these cases (docs/graph.md, "Identity platform").
AADSTS_EXPLANATIONS: dict[int, tuple[AuthCause, str]] = {
    7000215: (
        AuthCause.BAD_SECRET,
        "The client secret is wrong: Microsoft Entra ID rejected it (AADSTS7000215). "
        "Paste the secret's Value from the app registration's Certificates & secrets page "
        "again; the Secret ID next to it is not the secret.",
    ),
    7000218: (
        AuthCause.BAD_SECRET,
        "No client secret was sent (AADSTS7000218). Enter the app registration's client secret.",
    ),
    7000222: (
        AuthCause.EXPIRED_SECRET,
        "The client secret has expired (AADSTS7000222). Create a new secret for the app "
        "registration in Microsoft Entra ID and enter its value here.",
    ),
    700016: (
        AuthCause.APP_NOT_IN_TENANT,
        "This tenant has no application with this client ID (AADSTS700016). Check the "
        "Application (client) ID, and that the Directory (tenant) ID is the tenant the app "
        "is registered or consented in.",
    ),
    90002: (
        AuthCause.TENANT_NOT_FOUND,
        "Microsoft Entra ID knows no tenant with this ID or domain (AADSTS90002). Check the "
        "Directory (tenant) ID on the app registration's overview page.",
    ),
    900023: (
        AuthCause.MALFORMED_TENANT,
        "The Directory (tenant) ID is neither a GUID nor a domain name (AADSTS900023). Copy "
        "it from the app registration's overview page.",
    ),
    50076: (
        AuthCause.MFA_REQUIRED,
        "This account must complete multi-factor authentication (AADSTS50076), which a "
        "background sign-in cannot do. Exclude the service account from MFA (for example "
        "with a Conditional Access exclusion) or use another account.",
    ),
    50126: (
        AuthCause.WRONG_PASSWORD,
        "The user name or password is wrong (AADSTS50126). Enter the account's current "
        "password again.",
    ),
    50034: (
        AuthCause.OTHER,
        "No such user in this tenant (AADSTS50034). Check the user principal name.",
    ),
    50053: (
        AuthCause.OTHER,
        "The account is locked after too many failed sign-ins (AADSTS50053). Wait, or have "
        "an administrator unlock it.",
    ),
    50055: (
        AuthCause.OTHER,
        "The account's password has expired (AADSTS50055). Sign in once interactively to "
        "set a new one, then enter it here.",
    ),
    50057: (
        AuthCause.OTHER,
        "The user account is disabled in Microsoft Entra ID (AADSTS50057). Enable it or "
        "use another account.",
    ),
    53003: (
        AuthCause.OTHER,
        "A Conditional Access policy blocked the sign-in (AADSTS53003). Ask the tenant's "
        "administrator to exclude this app or account.",
    ),
    65001: (
        AuthCause.OTHER,
        "Nobody has consented to the delegated permissions this app asks for "
        "(AADSTS65001). Grant admin consent for the app registration.",
    ),
    500011: (
        AuthCause.OTHER,
        "The tenant does not know the requested resource (AADSTS500011). Check the Graph "
        "URL this console is configured with.",
    ),
    7000112: (
        AuthCause.OTHER,
        "The application is disabled in this tenant (AADSTS7000112). Enable its "
        "enterprise application.",
    ),
    9002313: (
        AuthCause.OTHER,
        "The stored sign-in was rejected (AADSTS9002313); the console will sign in again "
        "with the password.",
    ),
}
TRANSIENT_AADSTS = frozenset({90033, 90015})  # "A transient error has occurred"


def aadsts_code(body: dict[str, Any]) -> int | None:
    """The AADSTS number of an identity error body (``error_codes`` first, else
    the ``AADSTSnnnn`` in ``error_description``); None when there is none."""
    codes = body.get("error_codes")
    if isinstance(codes, list) and codes and isinstance(codes[0], int):
        return codes[0]
    match = _AADSTS_RE.search(str(body.get("error_description") or ""))
    return int(match.group(1)) if match else None


def is_transient_identity_error(body: dict[str, Any]) -> bool:
    """True when the identity platform says "try again later"."""
    return body.get("error") == "temporarily_unavailable" or aadsts_code(body) in TRANSIENT_AADSTS


def auth_error_from_response(body: dict[str, Any], status: int) -> AuthError:
    """Build the AuthError for an identity platform error body (``error``,
    ``error_description``, ``error_codes``, ``trace_id``, ``correlation_id``).

    Pure; never raises.
    """
    code = aadsts_code(body)
    description = str(body.get("error_description") or "")
    # The first line is the AADSTS text; the rest is Trace ID / Correlation ID / Timestamp.
    first_line = description.splitlines()[0].strip() if description else ""
    cause, sentence = AADSTS_EXPLANATIONS.get(code or -1, (AuthCause.OTHER, ""))
    if not sentence:
        named = f"AADSTS{code}" if code else str(body.get("error") or f"HTTP {status}")
        sentence = f"Microsoft Entra ID refused to issue a token ({named}): " + (
            first_line.removeprefix(f"{named}: ") or "no reason given."
        )
    return AuthError(
        first_line or sentence,
        cause=cause,
        sentence=sentence,
        aadsts=code,
        status=status,
        code=str(body.get("error") or ""),
        request_id=str(body.get("trace_id") or ""),
        correlation_id=str(body.get("correlation_id") or ""),
    )


def network_auth_error(host: str, reason: str) -> AuthError:
    """The AuthError for an identity platform we could not reach (``reason`` as
    given by :func:`graph.http.describe_network_error`)."""
    return AuthError(
        f"Could not reach the identity platform at {host}: {reason}",
        cause=AuthCause.NETWORK,
        sentence=(
            f"Could not reach the identity platform at {host}: {reason}. Check the network, "
            "proxy and firewall between this server and Microsoft."
            if "TLS" not in reason
            else f"Could not reach the identity platform at {host}: {reason}. Check the "
            "certificate authorities this server trusts (an intercepting proxy needs its CA "
            "added)."
        ),
    )


# --- Graph -----------------------------------------------------------------------------


def graph_error_from_response(
    status: int,
    body: Any,
    *,
    request_id: str = "",
    retry_after: float | None = None,
) -> GraphError:
    """Build the typed error for a Graph error response.

    ``body`` is the parsed JSON (``{"error":{"code","message","innerError"}}``)
    or anything else when the body was not Graph's error shape. The request id
    comes from ``innerError`` when present, else from ``request_id`` (the
    ``request-id`` header). Pure; never raises.
    """
    error = body.get("error") if isinstance(body, dict) else None
    error = error if isinstance(error, dict) else {}
    code = str(error.get("code") or "")
    message = str(error.get("message") or f"Graph answered HTTP {status}")
    inner = error.get("innerError") or error.get("innererror") or {}
    if isinstance(inner, dict) and inner.get("request-id"):
        request_id = str(inner["request-id"])
    kwargs: dict[str, Any] = {"status": status, "code": code, "request_id": request_id}
    if status == 401:
        return InvalidToken(message, **kwargs)
    if status == 403:
        return PermissionDenied(message, **kwargs)
    if status == 404:
        return NotFound(message, **kwargs)
    if status == 409:
        return Conflict(message, **kwargs)
    if status == 429:
        return Throttled(message, retry_after=retry_after, **kwargs)
    if status >= 500:
        return Unavailable(message, reason=f"HTTP {status}", **kwargs)
    return InvalidRequest(message, **kwargs)
