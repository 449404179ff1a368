"""Schemathesis against the contact-center API's own OpenAPI schema, in-process over WSGI.

Every operation gets schema-conforming and schema-violating requests with a
valid key holding every scope. Whatever is sent: never a 500, responses match
the schema where it declares them, and every error is an RFC 9457 problem.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from config.api import PROBLEM_CONTENT_TYPE, api
from config.wsgi import application
from tests.plugins.hypothesis_profiles import examples

SCHEMA_PATH = "/api/v1/openapi.json"
EXAMPLES_PER_OPERATION = 40

# The document /api/v1/openapi.json serves (checked below), built without a request so
# that pytest can make one test per operation. (schemathesis.pytest.from_fixture, which
# would fetch it per test, does not run under pytest 9.)
DOCUMENT = json.loads(json.dumps(api.get_openapi_schema(path_prefix="/api/v1/")))
schema = schemathesis.openapi.from_dict(DOCUMENT)
schema.app = application  # as from_wsgi does: every case goes through the WSGI app
schema.config.generation.update(
    modes=[schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE],
    allow_x00=True,
)


@schemathesis.check
def problem_document(ctx, response, case) -> bool | None:
    """Every 4xx/5xx is application/problem+json with title, status and detail."""
    if response.status_code < 400:
        return None
    headers = {name.lower(): values for name, values in response.headers.items()}
    content_type = headers.get("content-type", [""])[0]
    assert content_type.split(";")[0] == PROBLEM_CONTENT_TYPE, f"{content_type!r} is not a problem"
    body = json.loads(response.content)
    assert isinstance(body.get("title"), str) and body["title"], "no title"
    assert body.get("status") == response.status_code, "status differs from the response's"
    assert isinstance(body.get("detail"), str) and body["detail"], "no detail"
    return True


@pytest.fixture
def wsgi_in_test_transaction(db) -> Iterator[None]:
    """The WSGI handler closes "old" connections around each request, which would end
    the test's transaction; Django's test client skips that, and so do we."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def test_the_schema_is_the_one_the_console_serves(admin_client):
    assert admin_client.get(SCHEMA_PATH).json() == DOCUMENT


@schema.parametrize()
@settings(
    max_examples=examples(EXAMPLES_PER_OPERATION),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_no_request_makes_the_api_fail(case, wsgi_in_test_transaction, api_key):
    case.call_and_validate(
        headers={"X-API-Key": api_key},
        checks=[not_a_server_error, response_schema_conformance, problem_document],
    )
