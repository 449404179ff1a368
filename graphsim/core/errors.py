"""Error shapes of Microsoft Graph and of the identity platform (AADSTS).

Graph errors: ``{"error":{"code","message","innerError":{"date","request-id",
"client-request-id"}}}``. Identity errors: ``error``, ``error_description`` (the
AADSTS text then Trace ID / Correlation ID / Timestamp lines), ``error_codes``,
``timestamp``, ``trace_id``, ``correlation_id``, ``error_uri`` (docs/graph.md).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from werkzeug.wrappers import Response

JSON_TYPE = "application/json; charset=utf-8"


_clock = {"offset": 0.0}


def utcnow() -> datetime:
    """The simulated wall clock: now (UTC) plus the control API's offset.

    It decides every expiry (presence sessions, subscriptions, secrets); token
    lifetimes use the real clock so a clock jump never breaks authentication.
    """
    return datetime.now(UTC) + timedelta(seconds=_clock["offset"])


def advance_clock(seconds: float) -> datetime:
    """Move the simulated clock forward (side effect: global); returns the new now."""
    _clock["offset"] += seconds
    return utcnow()


def reset_clock() -> None:
    """Back to real time."""
    _clock["offset"] = 0.0


def iso(dt: datetime) -> str:
    """Format a datetime the way Graph does for most properties: seconds, ``Z``."""
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso7(dt: datetime) -> str:
    """Format with seven fractional digits, as Graph does for subscription times."""
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"


def parse_iso(value: Any) -> datetime | None:
    """Parse an ISO-8601 timestamp (``Z`` or offset); None when not parseable."""
    if not isinstance(value, str) or not value:
        return None
    try:
        dt = datetime.fromisoformat(value.strip().replace("z", "Z"))
    except ValueError:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


@dataclass
class GraphError(Exception):
    """A Graph API error; the server turns it into Graph's error JSON.

    ``headers`` are added to the response (e.g. ``Retry-After``); ``details``
    goes into ``error.details`` and ``inner`` (Teams' own code and message)
    into ``error.innerError`` when given.
    """

    status: int
    code: str
    message: str
    headers: dict[str, str] = field(default_factory=dict)
    details: list[dict[str, Any]] | None = None
    inner: dict[str, str] | None = None

    def __str__(self) -> str:
        return f"{self.status} {self.code}: {self.message}"


def graph_error_body(err: GraphError, request_id: str, client_request_id: str) -> dict:
    """Build Graph's error JSON for ``err`` (no side effects)."""
    body: dict[str, Any] = {"code": err.code, "message": err.message}
    if err.details:
        body["details"] = err.details
    body["innerError"] = {
        **(err.inner or {}),
        "date": utcnow().strftime("%Y-%m-%dT%H:%M:%S"),
        "request-id": request_id,
        "client-request-id": client_request_id,
    }
    return {"error": body}


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A JSON response with Graph's content type."""
    return Response(
        json.dumps(body, separators=(",", ":")),
        status=status,
        headers=headers or {},
        content_type=JSON_TYPE,
    )


# --- identity platform -----------------------------------------------------------

# AADSTS code -> (HTTP status, OAuth error). Messages are built by the callers
# because most of them name the app, the tenant or the user.
AADSTS_KINDS: dict[int, tuple[int, str]] = {
    7000215: (401, "invalid_client"),
    7000222: (401, "invalid_client"),
    7000218: (401, "invalid_client"),
    700016: (400, "unauthorized_client"),
    90002: (400, "invalid_tenant"),
    900023: (400, "invalid_request"),
    900144: (400, "invalid_request"),
    50076: (400, "invalid_grant"),
    50126: (400, "invalid_grant"),
    50034: (400, "invalid_grant"),
    50057: (400, "invalid_grant"),
    50055: (400, "invalid_grant"),
    65001: (400, "invalid_grant"),
    9002313: (400, "invalid_grant"),
    70011: (400, "invalid_scope"),
    1002012: (400, "invalid_scope"),
    500011: (400, "invalid_resource"),
    70003: (400, "unsupported_grant_type"),
    90033: (503, "temporarily_unavailable"),
}


@dataclass
class IdentityError(Exception):
    """An identity-platform error for ``code`` (an AADSTS number)."""

    code: int
    message: str
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"AADSTS{self.code}: {self.message}"


def identity_error_response(
    err: IdentityError, correlation_id: str, error_uri_base: str
) -> Response:
    """Build the token endpoint's error response for ``err``."""
    default_status, error = AADSTS_KINDS.get(err.code, (400, "invalid_request"))
    status = err.status or default_status
    trace_id = str(uuid.uuid4())
    stamp = utcnow().strftime("%Y-%m-%d %H:%M:%SZ")
    description = (
        f"AADSTS{err.code}: {err.message}\r\n"
        f"Trace ID: {trace_id}\r\n"
        f"Correlation ID: {correlation_id}\r\n"
        f"Timestamp: {stamp}"
    )
    body = {
        "error": error,
        "error_description": description,
        "error_codes": [err.code],
        "timestamp": stamp,
        "trace_id": trace_id,
        "correlation_id": correlation_id,
        "error_uri": f"{error_uri_base}/error?code={err.code}",
    }
    headers = {"x-ms-request-id": trace_id, "client-request-id": correlation_id}
    headers.update(err.headers)
    return json_response(body, status, headers)
