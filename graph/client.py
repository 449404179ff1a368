"""The Graph client: authenticated requests with retries, typed errors,
paging, delta and ``$batch``.

Every request gets a bearer token from the token provider, is retried by
:func:`graph.http.send_with_retries`, and is turned into a typed error when it
fails. A 401 ``InvalidAuthenticationToken`` gets one fresh token and one more
try (the token may have been revoked or its roles changed).
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import requests

from graph import batch as _batch
from graph.batch import BatchRequest, BatchResponse
from graph.config import GraphConfig
from graph.errors import (
    GraphError,
    InvalidRequest,
    Unavailable,
    graph_error_from_response,
)
from graph.http import (
    RETRY_STATUSES,
    RetryPolicy,
    Sleep,
    make_session,
    parse_retry_after,
    send_with_retries,
)
from graph.tokens import AccessToken

__all__ = ["BatchRequest", "BatchResponse", "DeltaPage", "GraphClient", "TokenSource"]


class TokenSource(Protocol):
    """What the client needs from a token provider (App- or DelegatedTokenProvider)."""

    def acquire(self, force_refresh: bool = False) -> AccessToken: ...


@dataclass
class DeltaPage:
    """One page of a delta query. Exactly one of ``next_link`` (more pages
    follow) and ``delta_link`` (the round is complete; store it for the next
    sync) is set on a well-formed page."""

    items: list[dict[str, Any]]
    delta_link: str | None
    next_link: str | None
    # The page as Graph sent it (JSON text), for a consumer that hands ``value`` on
    # as JSON again (accounts/sync.py gives it to PostgreSQL) without re-encoding it.
    text: str = ""


def _json(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


class GraphClient:
    """Talks to Graph at ``config.graph_base_url`` with tokens from ``tokens``.

    ``sleep`` waits between retries (inject a recorder in tests); ``jitter``
    draws the backoff fraction in [0, 1]. ``request_count`` counts HTTP
    requests sent to Graph (not to the identity platform).
    """

    def __init__(
        self,
        config: GraphConfig,
        tokens: TokenSource,
        session: requests.Session | None = None,
        sleep: Sleep = time.sleep,
        *,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.config = config
        self.tokens = tokens
        self.session = session or make_session(config)
        self.sleep = sleep
        self.retry = RetryPolicy.from_config(config, jitter)
        self.request_count = 0

    # --- plumbing ------------------------------------------------------------------

    def url(self, path_or_url: str) -> str:
        """The absolute URL for a path relative to ``graph_base_url``, or an
        absolute Graph URL (nextLink, deltaLink) as given. Raises ValueError for
        a URL on another origin: our token is never sent elsewhere."""
        if "://" in path_or_url:
            origin = self.config.graph_origin
            if path_or_url != origin and not path_or_url.startswith(origin + "/"):
                raise ValueError(f"refusing to send a Graph token outside {origin}: {path_or_url}")
            return path_or_url
        return f"{self.config.graph_base_url}/{path_or_url.lstrip('/')}"

    def _send(
        self,
        method: str,
        url: str,
        params: dict[str, Any] | None,
        json: Any,
        headers: dict[str, str] | None,
    ) -> requests.Response:
        base_headers = {"client-request-id": str(uuid.uuid4()), **(headers or {})}
        force_refresh = False

        def once() -> requests.Response:
            nonlocal force_refresh
            token = self.tokens.acquire(force_refresh=force_refresh)
            force_refresh = False
            self.request_count += 1
            return self.session.request(
                method,
                url,
                params=params,
                json=json,
                headers={**base_headers, "Authorization": f"Bearer {token.token}"},
                timeout=self.config.timeout,
            )

        for refreshed in (False, True):
            force_refresh = refreshed
            response = send_with_retries(
                once, method=method, url=url, policy=self.retry, sleep=self.sleep
            )
            body = _json(response) if response.status_code == 401 else None
            code = (body or {}).get("error", {}).get("code") if isinstance(body, dict) else None
            if refreshed or response.status_code != 401 or code != "InvalidAuthenticationToken":
                return response
        return response  # unreachable; keeps type checkers calm

    def _error(self, response: requests.Response) -> GraphError:
        return graph_error_from_response(
            response.status_code,
            _json(response),
            request_id=response.headers.get("request-id", ""),
            retry_after=parse_retry_after(response.headers.get("Retry-After")),
        )

    # --- requests ------------------------------------------------------------------

    def request(
        self,
        method: str,
        path_or_url: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        headers: dict[str, str] | None = None,
    ) -> dict[str, Any] | None:
        """Send one Graph request and return its JSON body (None when empty).

        Side effects: HTTP to Graph (and to the identity platform when a token
        is due); sleeps between retries. Raises AuthError (no token),
        InvalidToken, PermissionDenied, NotFound, Conflict, Throttled,
        Unavailable or InvalidRequest.
        """
        return self._request(method.upper(), path_or_url, params, json, headers)[0]

    def _request(
        self,
        method: str,
        path_or_url: str,
        params: dict[str, Any] | None,
        json: Any,
        headers: dict[str, str] | None,
    ) -> tuple[dict[str, Any] | None, requests.Response]:
        """:meth:`request`, also giving back the response it read the body from."""
        response = self._send(method, self.url(path_or_url), params, json, headers)
        if response.status_code >= 400:
            raise self._error(response)
        if response.status_code == 204 or not response.content:
            return None, response
        body = _json(response)
        if not isinstance(body, dict):
            raise InvalidRequest(
                f"Graph answered {method} {path_or_url} with a body that is not a JSON object",
                status=response.status_code,
                request_id=response.headers.get("request-id", ""),
            )
        return body, response

    def get(self, path_or_url: str, params: dict[str, Any] | None = None) -> dict[str, Any] | None:
        """GET; see :meth:`request`."""
        return self.request("GET", path_or_url, params=params)

    def get_bytes(self, path_or_url: str) -> tuple[bytes, str]:
        """GET a binary resource (a hosted content's ``$value``, an attachment) and
        return its bytes and Content-Type. Raises as :meth:`request`."""
        response = self._send("GET", self.url(path_or_url), None, None, None)
        if response.status_code >= 400:
            raise self._error(response)
        content_type = response.headers.get("Content-Type", "application/octet-stream")
        return response.content, content_type

    def post(
        self, path_or_url: str, json: Any = None, *, params: dict[str, Any] | None = None
    ) -> dict[str, Any] | None:
        """POST a JSON body; see :meth:`request`."""
        return self.request("POST", path_or_url, json=json, params=params)

    def patch(self, path_or_url: str, json: Any = None) -> dict[str, Any] | None:
        """PATCH a JSON body; see :meth:`request`."""
        return self.request("PATCH", path_or_url, json=json)

    def delete(self, path_or_url: str) -> dict[str, Any] | None:
        """DELETE; see :meth:`request`."""
        return self.request("DELETE", path_or_url)

    # --- collections ----------------------------------------------------------------

    def iter_pages(
        self, path: str, params: dict[str, Any] | None = None
    ) -> Iterator[list[dict[str, Any]]]:
        """Yield the ``value`` of each page, following ``@odata.nextLink`` as given
        (it already carries the query). Raises as :meth:`request`."""
        url: str | None = path
        while url is not None:
            body = self.get(url, params) or {}
            yield list(body.get("value") or [])
            url, params = body.get("@odata.nextLink"), None

    def delta(
        self,
        path_or_delta_link: str,
        params: dict[str, Any] | None = None,
        *,
        page_size: int | None = None,
    ) -> Iterator[DeltaPage]:
        """Yield the pages of a delta round, starting from a path (first sync) or a
        stored deltaLink/nextLink (resume). The last page carries the deltaLink.
        ``page_size`` asks for ``Prefer: odata.maxpagesize``. Raises as :meth:`request`."""
        headers = {"Prefer": f"odata.maxpagesize={page_size}"} if page_size else None
        url: str | None = path_or_delta_link
        while url is not None:
            body, response = self._request("GET", url, params, None, headers)
            body = body or {}
            page = DeltaPage(
                items=list(body.get("value") or []),
                delta_link=body.get("@odata.deltaLink"),
                next_link=body.get("@odata.nextLink"),
                text=response.text if body else "",
            )
            yield page
            url, params = page.next_link, None

    def batch(self, requests: Sequence[BatchRequest]) -> list[BatchResponse]:
        """Run ``requests`` through ``POST /$batch`` in chunks of at most 20 and
        return their responses in request order.

        Inner 429/503/504 responses are sent again (in a smaller batch) after
        their ``Retry-After`` (the longest of them) or a backoff, within
        ``max_retries``; what still fails is returned as is, so check each
        response (``ok``, ``raise_for_status()``). Raises ValueError for duplicate
        ids, and the errors of :meth:`request` when the batch itself fails.
        """
        ids = _batch.assign_ids(requests)
        by_id = dict(zip(ids, requests, strict=True))
        base = self.config.graph_base_url
        results: dict[str, BatchResponse] = {}
        for chunk in _batch.chunks(ids):
            pending, attempt = chunk, 0
            while pending:
                body = self.post(
                    "/$batch",
                    {"requests": [_batch.payload(by_id[i], i, base) for i in pending]},
                )
                answered = {
                    str(item.get("id")): BatchResponse.from_graph(item)
                    for item in (body or {}).get("responses") or []
                }
                missing = [i for i in pending if i not in answered]
                if missing:
                    raise Unavailable(
                        f"Graph's $batch answer lacks responses for ids {missing}",
                        reason="incomplete batch response",
                    )
                results.update({i: answered[i] for i in pending})
                retry = [i for i in pending if answered[i].status in RETRY_STATUSES]
                if not retry or attempt >= self.retry.max_retries:
                    break
                hints = [answered[i].retry_after for i in retry]
                known = [h for h in hints if h is not None]
                wait = self.retry.delay(attempt, max(known) if known else None)
                if wait is None:
                    break
                self.sleep(wait)
                pending, attempt = retry, attempt + 1
        return [results[i] for i in ids]
