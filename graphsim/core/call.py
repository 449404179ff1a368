"""The request and result objects Graph handlers work with.

Handlers never see werkzeug objects, so ``$batch`` can run its inner requests
through exactly the same code as top-level ones.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from graphsim.core.auth import Principal
from graphsim.core.errors import GraphError


@dataclass
class Call:
    """One Graph request: ``path`` is relative to ``/v1.0`` (e.g. ``/users``)."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    base_url: str  # e.g. "https://127.0.0.1:8443" (no trailing slash)
    principal: Principal | None = None
    parsed_body: Any = None
    request_id: str = ""
    client_request_id: str = ""

    @property
    def graph_base(self) -> str:
        return f"{self.base_url}/v1.0"

    def header(self, name: str) -> str | None:
        """A request header, case-insensitively."""
        lower = name.lower()
        for key, value in self.headers.items():
            if key.lower() == lower:
                return value
        return None

    def json(self) -> Any:
        """The request body as JSON; raises GraphError 400 when it is not JSON."""
        if self.parsed_body is not None:
            return self.parsed_body
        if not self.body:
            raise GraphError(400, "BadRequest", "Empty Payload, JSON content expected.")
        try:
            self.parsed_body = json.loads(self.body)
        except ValueError:
            raise GraphError(400, "BadRequest", "Unable to read JSON request payload.") from None
        return self.parsed_body

    def json_object(self) -> dict[str, Any]:
        """The request body, which must be a JSON object (400 otherwise)."""
        body = self.json()
        if not isinstance(body, dict):
            raise GraphError(400, "BadRequest", "Unable to read JSON request payload.")
        return body

    @property
    def p(self) -> Principal:
        """The authenticated caller (handlers only run after authentication)."""
        assert self.principal is not None
        return self.principal


@dataclass
class Result:
    """A Graph handler's answer: status, JSON body (or None) and headers."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
