"""The API's docs page, rendered on the server from the OpenAPI schema: Swagger UI
needs inline script and assets that the strict CSP (and an offline install) rule out.
config/api.py mounts it and passes in its problem types and body limits.
"""

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from ninja import NinjaAPI
from ninja.openapi.docs import DocsBase


@dataclass
class DocField:
    name: str
    type: str
    required: bool
    notes: str = ""


@dataclass
class DocOperation:
    method: str
    path: str
    summary: str
    description: str
    scope: str
    parameters: list[DocField]
    body: str
    responses: list[tuple[str, str, str]]
    anchor: str = ""


@dataclass
class DocSchema:
    name: str
    description: str
    fields: list[DocField] = field(default_factory=list)


def _type_label(schema: dict) -> str:
    if "$ref" in schema:
        return schema["$ref"].rsplit("/", 1)[-1]
    if "anyOf" in schema:
        return " | ".join(_type_label(option) for option in schema["anyOf"])
    if schema.get("type") == "array":
        return f"list of {_type_label(schema.get('items', {}))}"
    kind = schema.get("type", "any")
    return f"{kind} ({schema['format']})" if "format" in schema else kind


def _notes(schema: dict) -> str:
    facts = []
    for key, label in (
        ("minLength", "min length"),
        ("maxLength", "max length"),
        ("maxItems", "at most"),
        ("minimum", "≥"),
        ("maximum", "≤"),
        ("pattern", "pattern"),
    ):
        if key in schema:
            facts.append(f"{label} {schema[key]}")
    if "default" in schema:
        facts.append(f"default {json.dumps(schema['default'])}")
    text = schema.get("description", "")
    return "; ".join([text, *facts] if text else facts)


def _fields(schema: dict) -> list[DocField]:
    required = set(schema.get("required", ()))
    return [
        DocField(name, _type_label(prop), name in required, _notes(prop))
        for name, prop in schema.get("properties", {}).items()
    ]


def _without_scope_note(op: dict) -> str:
    note = f"Requires the `{op.get('x-required-scope')}` scope."
    return op.get("description", "").removeprefix(note).strip()


def docs_context(
    schema: dict,
    *,
    problems: Mapping[int, tuple[str, str]],
    max_body_bytes: int,
    max_body_depth: int,
) -> dict:
    """What the docs page shows, taken from the OpenAPI schema, with the API's problem
    types (status: (type slug, title)) and body limits (size, JSON nesting)."""
    operations = []
    for route, methods in schema["paths"].items():
        for method, op in methods.items():
            body = op.get("requestBody", {}).get("content", {}).get("application/json", {})
            responses = []
            for status, response in op["responses"].items():
                content = next(iter(response.get("content", {}).values()), {})
                kind = _type_label(content["schema"]) if content else "—"
                responses.append((str(status), response["description"], kind))
            operations.append(
                DocOperation(
                    method=method.upper(),
                    path=route,
                    summary=op.get("summary", ""),
                    description=_without_scope_note(op),
                    scope=op.get("x-required-scope", ""),
                    parameters=[
                        DocField(
                            f"{p['name']} ({p['in']})",
                            _type_label(p["schema"]),
                            p["required"],
                            _notes(p["schema"]),
                        )
                        for p in op.get("parameters", [])
                    ],
                    body=_type_label(body["schema"]) if body else "",
                    responses=responses,
                    anchor=op["operationId"],
                )
            )
    schemas = [
        DocSchema(name, item.get("description", ""), _fields(item))
        for name, item in sorted(schema["components"]["schemas"].items())
    ]
    problem_rows = [
        (f"problem-{slug}", status, title) for status, (slug, title) in problems.items()
    ]
    return {
        "info": schema["info"],
        "operations": operations,
        "schemas": schemas,
        "problems": problem_rows,
        "max_body_bytes": max_body_bytes,
        "max_body_depth": max_body_depth,
    }


class ServerRenderedDocs(DocsBase):
    """The docs as plain HTML: no script, so it works offline and under the strict CSP."""

    def __init__(
        self, *, problems: Mapping[int, tuple[str, str]], max_body_bytes: int, max_body_depth: int
    ) -> None:
        self.problems = problems
        self.max_body_bytes = max_body_bytes
        self.max_body_depth = max_body_depth

    def render_page(self, request: HttpRequest, api: NinjaAPI, **kwargs: Any) -> HttpResponse:
        schema = api.get_openapi_schema(path_params=kwargs)
        context = docs_context(
            json.loads(json.dumps(schema, default=str)),
            problems=self.problems,
            max_body_bytes=self.max_body_bytes,
            max_body_depth=self.max_body_depth,
        )
        context["openapi_url"] = self.get_openapi_url(api, kwargs)
        return render(request, "integrations/apikey_docs.html", context)
