"""JSON batching (``POST /$batch``): the request/response value objects and
the pure helpers :meth:`graph.client.GraphClient.batch` uses.

docs/graph.md: at most 20 requests per batch, unique ids, URLs relative to the
version root; responses come back in any order, each with its own status
(429 included, with its own ``Retry-After``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from graph.errors import GraphError, graph_error_from_response
from graph.http import parse_retry_after

MAX_BATCH = 20


@dataclass(frozen=True)
class BatchRequest:
    """One request inside a batch. ``url`` is relative to the version root
    (``/users/{id}``); ``id`` defaults to the request's position."""

    method: str
    url: str
    body: Any = None
    headers: dict[str, str] | None = None
    id: str | None = None


@dataclass(frozen=True)
class BatchResponse:
    """One inner response: its own status, headers and JSON body."""

    id: str
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None

    @classmethod
    def from_graph(cls, item: dict[str, Any]) -> BatchResponse:
        headers = {str(k): str(v) for k, v in (item.get("headers") or {}).items()}
        return cls(str(item.get("id")), int(item.get("status") or 0), headers, item.get("body"))

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def header(self, name: str) -> str | None:
        """A header by name, case-insensitively."""
        wanted = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == wanted), None)

    @property
    def retry_after(self) -> float | None:
        return parse_retry_after(self.header("Retry-After"))

    def error(self) -> GraphError | None:
        """The typed error this response stands for, or None when it succeeded."""
        if self.ok:
            return None
        return graph_error_from_response(
            self.status,
            self.body,
            request_id=self.header("request-id") or "",
            retry_after=self.retry_after,
        )

    def raise_for_status(self) -> None:
        """Raise :meth:`error` when the inner request failed."""
        err = self.error()
        if err is not None:
            raise err


def assign_ids(requests: Sequence[BatchRequest]) -> list[str]:
    """Each request's batch id (given, or its position). Raises ValueError on a
    duplicate, which Graph would reject for the whole batch."""
    ids = [r.id if r.id is not None else str(i) for i, r in enumerate(requests)]
    seen: set[str] = set()
    for ident in ids:
        if ident in seen:
            raise ValueError(f"batch request id {ident!r} is used twice; ids must be unique")
        seen.add(ident)
    return ids


def relative_url(url: str, graph_base_url: str) -> str:
    """``url`` relative to the version root, as ``$batch`` wants it. Raises
    ValueError for an absolute URL outside ``graph_base_url``."""
    if "://" in url:
        if not url.startswith(graph_base_url + "/"):
            raise ValueError(f"batch URLs must be on {graph_base_url}: {url}")
        url = url[len(graph_base_url) :]
    return url if url.startswith("/") else "/" + url


def payload(request: BatchRequest, ident: str, graph_base_url: str) -> dict[str, Any]:
    """The JSON of one inner request."""
    item: dict[str, Any] = {
        "id": ident,
        "method": request.method.upper(),
        "url": relative_url(request.url, graph_base_url),
    }
    headers = dict(request.headers or {})
    if request.body is not None:
        if not any(k.lower() == "content-type" for k in headers):
            headers["Content-Type"] = "application/json"
        item["body"] = request.body
    if headers:
        item["headers"] = headers
    return item


def chunks(ids: list[str], size: int = MAX_BATCH) -> list[list[str]]:
    """``ids`` in consecutive groups of at most ``size``."""
    return [ids[i : i + size] for i in range(0, len(ids), size)]
