"""The contact-center JSON API (django-ninja), mounted at /api/v1/ by config/urls.py.

Callers authenticate with an API key (integrations/apikeys.py), never with the
console's session, so the API views skip the console's login redirect and
CSRF. Every error is an RFC 9457 problem (`application/problem+json`) with, for
validation, the path of each offending field. Each key may send
API_RATE_LIMIT_PER_MINUTE requests a minute (config/ratelimit.py), then gets 429
with Retry-After. The docs page is ninja's own Swagger UI page (static JS only, so
it runs under the strict CSP), readable by people signed in to the console.
"""

import json
import logging
import math
from collections.abc import Callable, Sequence
from functools import wraps
from http import HTTPStatus
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import RequestDataTooBig
from django.db import IntegrityError
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import NoReverseMatch, URLPattern, path, re_path, reverse
from django.views.decorators.common import no_append_slash
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET
from ninja import NinjaAPI, Schema, Swagger
from ninja.errors import AuthenticationError, HttpError, Throttled, ValidationError
from ninja.openapi.schema import OpenAPISchema

from accounts.api import router as accounts_router
from chat.api import router as chat_router
from config.api_body import MAX_DEPTH, BodyNotJson, BoundedJsonParser
from config.ratelimit import ApiKeyThrottle
from mailboxes.api import router as mailboxes_router
from presence.to_teams.api import router as presence_router

logger = logging.getLogger(__name__)

NAMESPACE = "api"
PROBLEM_CONTENT_TYPE = "application/problem+json"
# Checked from Content-Length before the body is read. 1,000 agents take well under
# 1 MB; the limit stays below Django's DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB), which
# would otherwise refuse the body first.
MAX_BODY_BYTES = 2 * 1024 * 1024

# status: (type slug, title). A problem's type links to its entry on the docs page.
PROBLEMS: dict[int, tuple[str, str]] = {
    400: ("malformed-request", "The request body is not valid JSON"),
    401: ("unauthorized", "A valid API key is required"),
    403: ("forbidden", "The API key may not do this"),
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    409: ("conflict", "Conflicting change"),
    413: ("too-large", "The request body is too large"),
    422: ("invalid", "The request is not valid"),
    429: ("throttled", "Too many requests"),
    500: ("server-error", "Something went wrong on our side"),
}


class ProblemError(Schema):
    path: str
    message: str


class Problem(Schema):
    """An RFC 9457 problem document."""

    type: str
    title: str
    status: int
    detail: str
    errors: list[ProblemError] | None = None


def _docs_url() -> str:
    try:
        return reverse(f"{NAMESPACE}:openapi-view")
    except NoReverseMatch:
        return ""


def problem(
    status: int, detail: str, *, errors: list[dict[str, str]] | None = None
) -> HttpResponse:
    """An `application/problem+json` response."""
    slug, title = PROBLEMS.get(status, ("error", HTTPStatus(status).phrase))
    body: dict[str, Any] = {
        "type": f"{_docs_url()}#problem-{slug}",
        "title": title,
        "status": status,
        "detail": detail,
    }
    if errors is not None:
        body["errors"] = errors
    response = HttpResponse(json.dumps(body), status=status, content_type=PROBLEM_CONTENT_TYPE)
    if status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="ccbridge"'
    return response


def error_path(loc: Sequence[str | int]) -> str:
    """("agents", 3, "email") → "agents[3].email"."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def _field_errors(errors: list[dict[str, Any]]) -> list[dict[str, str]]:
    result = []
    for error in errors:
        source, *loc = error.get("loc") or ("body",)
        if source == "body" and loc:
            loc = loc[1:]  # the view's parameter name means nothing to the caller
        result.append({"path": error_path(loc) or source, "message": error["msg"]})
    return result


class ContactCenterAPI(NinjaAPI):
    def get_openapi_schema(self, *, path_prefix=None, path_params=None) -> OpenAPISchema:
        if path_prefix is None:
            path_prefix = self.get_root_path(path_params or {})
        return ProblemOpenAPISchema(self, path_prefix)


class ProblemOpenAPISchema(OpenAPISchema):
    """Ninja's schema plus each operation's scope and the problems it may answer with."""

    def operation_details(self, operation) -> dict:
        details = super().operation_details(operation)
        scope = _scope_of(operation)
        if scope:
            note = f"Requires the `{scope}` scope."
            details["description"] = f"{note}\n\n{details.get('description', '')}".strip()
            details["x-required-scope"] = scope
        return details

    def operation_security(self, operation) -> list[dict] | None:
        # OpenAPI 3.1 lets non-OAuth schemes list the roles (here: scopes) they need.
        security = super().operation_security(operation)
        scope = _scope_of(operation)
        scopes = [scope] if scope else []
        return [{name: scopes for name in item} for item in security or []] or None

    def responses(self, operation) -> dict:
        result = super().responses(operation)
        self.schemas.setdefault("Problem", _problem_schema(self.schemas))
        statuses = [422] if operation.models else []
        if operation.auth_callbacks:
            statuses += [401, 403, 429]
        if any(m.__ninja_param_source__ == "body" for m in operation.models):
            statuses += [400, 409, 413]
        if any(m.__ninja_param_source__ == "path" for m in operation.models):
            statuses += [404]
        ref = {"$ref": "#/components/schemas/Problem"}
        for status in sorted(statuses):
            result.setdefault(
                status,
                {
                    "description": PROBLEMS[status][1],
                    "content": {PROBLEM_CONTENT_TYPE: {"schema": ref}},
                },
            )
        return result


def _problem_schema(schemas: dict) -> dict:
    schema = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(schema.pop("$defs", {}))
    return schema


def _scope_of(operation) -> str:
    return next((getattr(a, "scope", "") for a in operation.auth_callbacks or ()), "")


# --- The API --------------------------------------------------------------------------


def _description() -> str:
    """The API's overview on the docs page (Markdown): authentication, errors, limits."""
    problem_rows = "\n".join(
        f"| {status} | `#problem-{slug}` | {title} |" for status, (slug, title) in PROBLEMS.items()
    )
    return (
        "Push business units and agents from the contact center and read their Teams "
        "mapping; send agent state events to sync Teams presence. Authenticate with an API "
        "key created by an administrator on the console's API keys page, sent as "
        "`Authorization: Bearer <key>` or `X-API-Key: <key>`.\n\n"
        "Errors are RFC 9457 problem documents (`application/problem+json`): `type`, "
        "`title`, `status`, `detail`, and for invalid requests `errors`, each with the "
        "`path` of the field (such as `agents[3].email`) and a `message`. Request bodies "
        f"may hold at most {MAX_BODY_BYTES:,} bytes, nested at most {MAX_DEPTH} levels "
        "deep; a batch at most 1,000 rows.\n\n"
        "| Status | Type | Title |\n|---|---|---|\n" + problem_rows
    )


api = ContactCenterAPI(
    title="ccbridge contact-center API",
    version="1",
    description=_description(),
    urls_namespace=NAMESPACE,
    docs=Swagger(),
    throttle=[ApiKeyThrottle()],
    parser=BoundedJsonParser(),
)


def _content_length(request: HttpRequest) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


def _limit_body(run: Callable) -> Callable:
    @wraps(run)
    def limited(request: HttpRequest, *args, **kwargs):
        if _content_length(request) > MAX_BODY_BYTES:
            return problem(
                413, f"Send at most {MAX_BODY_BYTES:,} bytes; split large batches in several."
            )
        return run(request, *args, **kwargs)

    return limited


api.add_decorator(_limit_body, mode="view")  # before authentication and parsing


@api.exception_handler(ValidationError)
def _invalid(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    errors = _field_errors(exc.errors)
    count = f"{len(errors)} problem{'s' if len(errors) != 1 else ''}"
    return problem(422, f"{count} in the request; see errors.", errors=errors)


@api.exception_handler(AuthenticationError)
def _unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    detail = str(exc)
    if detail == "Unauthorized":  # ninja's own: no key was sent
        detail = "Send an API key as `Authorization: Bearer <key>` or `X-API-Key: <key>`."
    return problem(401, detail)


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    detail = str(exc)
    if exc.status_code == 400:
        # Ninja wraps the parser's error; its own message may carry the exception's text.
        cause = exc.__cause__
        if isinstance(cause, BodyNotJson):
            detail = str(cause)
        else:
            detail = "The request body could not be parsed as JSON."
    return problem(exc.status_code, detail)


@api.exception_handler(Throttled)
def _throttled(request: HttpRequest, exc: Throttled) -> HttpResponse:
    wait = max(math.ceil(exc.wait or 1), 1)
    response = problem(
        429,
        f"This API key sent more than {settings.API_RATE_LIMIT_PER_MINUTE:,} requests in a "
        f"minute; retry after {wait} s.",
    )
    response["Retry-After"] = str(wait)
    return response


@api.exception_handler(Http404)
def _not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return problem(404, f"Nothing at {request.path}.")


@api.exception_handler(RequestDataTooBig)
def _too_large(request: HttpRequest, exc: RequestDataTooBig) -> HttpResponse:
    return problem(413, f"Send at most {MAX_BODY_BYTES:,} bytes.")


@api.exception_handler(IntegrityError)
def _conflict(request: HttpRequest, exc: IntegrityError) -> HttpResponse:
    return problem(409, "Another request changed the same records at the same time; retry.")


@api.exception_handler(Exception)
def _server_error(request: HttpRequest, exc: Exception) -> HttpResponse:
    logger.exception("API request failed: %s %s", request.method, request.path)
    return problem(500, "The error was logged. Retry later, or contact an administrator.")


api.add_router("", accounts_router)
api.add_router("", presence_router)
api.add_router("", chat_router)
api.add_router("", mailboxes_router)


# --- URLs -------------------------------------------------------------------------------


@no_append_slash
@csrf_exempt
@login_not_required
def not_found(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    """Unknown addresses under the API answer with a problem, not the console's HTML page."""
    return problem(404, f"Nothing at {request.path}. The endpoints are listed at {_docs_url()}.")


def _key_authenticated(view: Callable) -> Callable:
    """An API view as the console must route it: no login redirect, and 405 as a problem."""

    @wraps(view)
    def api_view(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = view(request, *args, **kwargs)
        if response.status_code == 405 and response.get("Content-Type") != PROBLEM_CONTENT_TYPE:
            allowed = response["Allow"]
            response = problem(405, f"{request.method} is not allowed here; use {allowed}.")
            response["Allow"] = allowed
        return response

    return csrf_exempt(login_not_required(api_view))


def _urlpatterns() -> list:
    patterns, _app_name, _namespace = api.urls
    result = []
    for pattern in patterns:
        if pattern.name == "api-root":
            continue
        if pattern.name in ("openapi-json", "openapi-view"):
            # The schema and the docs are for people signed in to the console, to read.
            callback = require_GET(pattern.callback)
            result.append(URLPattern(pattern.pattern, callback, pattern.default_args, pattern.name))
        else:
            callback = _key_authenticated(pattern.callback)
            result.append(URLPattern(pattern.pattern, callback, pattern.default_args, pattern.name))
    # Ninja finds its own address by reversing "api-root".
    result.append(path("", not_found, name="api-root"))
    result.append(re_path(r"^", not_found))
    return result


urls = (_urlpatterns(), "ninja", NAMESPACE)
