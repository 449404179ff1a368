"""Identity-platform and Graph error bodies become precise typed errors."""

from __future__ import annotations

import pickle

import pytest

from graph.errors import (
    AADSTS_EXPLANATIONS,
    AuthCause,
    AuthError,
    Conflict,
    InvalidRequest,
    InvalidToken,
    NotFound,
    PermissionDenied,
    Throttled,
    Unavailable,
    auth_error_from_response,
    graph_error_from_response,
    is_transient_identity_error,
)


def identity_body(error: str, code: int, text: str) -> dict:
    """docs/graph.md: error, error_description (AADSTSnnnn: … then Trace ID /
    Correlation ID / Timestamp lines), error_codes, trace_id, correlation_id."""
    return {
        "error": error,
        "error_description": f"AADSTS{code}: {text}\r\nTrace ID: tr-1\r\n"
        "Correlation ID: co-1\r\nTimestamp: 2025-01-01 00:00:00Z",
        "error_codes": [code],
        "trace_id": "tr-1",
        "correlation_id": "co-1",
    }


@pytest.mark.parametrize(
    ("status", "error", "code", "cause"),
    [
        (401, "invalid_client", 7000215, AuthCause.BAD_SECRET),
        (401, "invalid_client", 7000222, AuthCause.EXPIRED_SECRET),
        (400, "unauthorized_client", 700016, AuthCause.APP_NOT_IN_TENANT),
        (400, "invalid_tenant", 90002, AuthCause.TENANT_NOT_FOUND),
        (400, "invalid_request", 900023, AuthCause.MALFORMED_TENANT),
        (400, "invalid_grant", 50076, AuthCause.MFA_REQUIRED),
        (400, "invalid_grant", 50126, AuthCause.WRONG_PASSWORD),
    ],
)
def test_each_documented_aadsts_code_has_its_cause_and_sentence(
    status: int, error: str, code: int, cause: AuthCause
) -> None:
    """docs/graph.md identity error table: HTTP status, error and AADSTS code per case."""
    err = auth_error_from_response(identity_body(error, code, "Some text."), status)
    assert isinstance(err, AuthError)
    assert (err.cause, err.aadsts, err.status, err.code) == (cause, code, status, error)
    assert f"(AADSTS{code})" in err.sentence
    assert err.sentence.endswith(".")
    assert err.message == f"AADSTS{code}: Some text."
    assert (err.request_id, err.correlation_id) == ("tr-1", "co-1")
    assert not err.retryable


def test_every_sentence_names_its_code() -> None:
    for code, (_cause, sentence) in AADSTS_EXPLANATIONS.items():
        assert f"AADSTS{code}" in sentence


def test_the_code_is_read_from_the_description_when_error_codes_is_absent() -> None:
    body = identity_body("invalid_client", 7000215, "Invalid client secret provided.")
    del body["error_codes"]
    assert auth_error_from_response(body, 401).cause is AuthCause.BAD_SECRET


def test_an_unknown_code_keeps_microsofts_own_words() -> None:
    err = auth_error_from_response(identity_body("invalid_grant", 50099, "Odd thing."), 400)
    assert err.cause is AuthCause.OTHER
    assert err.sentence == "Microsoft Entra ID refused to issue a token (AADSTS50099): Odd thing."


def test_temporarily_unavailable_is_transient() -> None:
    assert is_transient_identity_error(identity_body("temporarily_unavailable", 90033, "x"))
    assert not is_transient_identity_error(identity_body("invalid_client", 7000215, "x"))


def graph_body(code: str, message: str = "msg") -> dict:
    """docs/graph.md: {"error":{"code","message","innerError":{…,"request-id",…}}}."""
    return {"error": {"code": code, "message": message, "innerError": {"request-id": "rid-9"}}}


@pytest.mark.parametrize(
    ("status", "code", "kind", "retryable"),
    [
        (401, "InvalidAuthenticationToken", InvalidToken, False),
        (403, "Authorization_RequestDenied", PermissionDenied, False),
        (404, "Request_ResourceNotFound", NotFound, False),
        (409, "Conflict", Conflict, False),
        (429, "TooManyRequests", Throttled, True),
        (503, "ServiceUnavailable", Unavailable, True),
        (504, "GatewayTimeout", Unavailable, True),
        (400, "BadRequest", InvalidRequest, False),
        (405, "Request_BadRequest", InvalidRequest, False),
    ],
)
def test_graph_statuses_map_to_typed_errors(
    status: int, code: str, kind: type, retryable: bool
) -> None:
    err = graph_error_from_response(status, graph_body(code), request_id="hdr", retry_after=2.0)
    assert type(err) is kind
    assert (err.status, err.code, err.request_id, err.message) == (status, code, "rid-9", "msg")
    assert err.retryable is retryable
    assert "rid-9" in str(err)


def test_a_non_graph_body_still_gives_a_typed_error_with_the_header_request_id() -> None:
    err = graph_error_from_response(502, "<html>bad gateway</html>", request_id="hdr-1")
    assert isinstance(err, Unavailable)
    assert (err.request_id, err.reason) == ("hdr-1", "HTTP 502")
    throttled = graph_error_from_response(429, None, retry_after=1.5)
    assert isinstance(throttled, Throttled)
    assert throttled.retry_after == 1.5


def test_errors_survive_pickling_with_all_their_attributes() -> None:
    """Celery and multiprocessing pickle exceptions."""
    auth = auth_error_from_response(identity_body("invalid_client", 7000222, "Expired."), 401)
    copy = pickle.loads(pickle.dumps(auth))  # noqa: S301 - our own bytes
    assert type(copy) is AuthError
    assert (copy.cause, copy.aadsts, copy.sentence, copy.request_id, str(copy)) == (
        auth.cause, auth.aadsts, auth.sentence, auth.request_id, str(auth),
    )  # fmt: skip
    pickled = pickle.dumps(Throttled("slow down", retry_after=1.5, status=429))
    throttled = pickle.loads(pickled)  # noqa: S301 - our own bytes
    assert (throttled.retry_after, throttled.status, throttled.retryable) == (1.5, 429, True)
