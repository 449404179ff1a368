"""The HTTP layer: one way to build a session, one retry loop, and the
adapter MSAL talks through.

Retry rules (docs/graph.md, "Batching, errors, throttling"): 429, 503 and 504 are
retried for every method, waiting ``Retry-After`` when given (seconds, maybe
fractional, or an HTTP date) and backing off exponentially with full jitter
otherwise. Connection failures and timeouts are retried for idempotent
methods only, since a POST may already have been acted on. Never longer than
``max_backoff`` per wait nor more than ``max_retries`` times.
"""

from __future__ import annotations

import random
import socket
import ssl
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import unquote, urlsplit

import requests

from graph import __version__
from graph.config import GraphConfig
from graph.errors import InvalidRequest, Unavailable

USER_AGENT = f"ccbridge/{__version__}"
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
RETRY_STATUSES = frozenset({429, 503, 504})
Sleep = Callable[[float], None]


def make_session(config: GraphConfig) -> requests.Session:
    """A requests session for Microsoft endpoints: our CA choice, our User-Agent.

    ``trust_env`` is off because REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE in the
    environment would silently override ``verify``; a proxy therefore has to be
    configured explicitly (``GraphConfig.proxy``). No side effects.
    """
    session = requests.Session()
    session.trust_env = False
    session.verify = config.ca_bundle or True  # True = certifi's bundle
    session.headers["User-Agent"] = USER_AGENT
    if config.proxy:
        session.proxies = {"https": config.proxy, "http": config.proxy}
    return session


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds (``"2"``,
    ``"1.5"``) or an HTTP date. None when absent or unreadable; never negative."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if seconds != seconds or seconds in (float("inf"), float("-inf")):  # NaN, inf
        return None
    return max(0.0, seconds)


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and everything it wraps (causes, contexts, urllib3 reasons)."""
    seen: set[int] = set()
    stack: list[BaseException] = [exc]
    while stack:
        item = stack.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        yield item
        linked = [item.__cause__, item.__context__, getattr(item, "reason", None)]
        linked += [a for a in item.args if isinstance(a, BaseException)]
        stack.extend(x for x in linked if isinstance(x, BaseException))


def describe_network_error(exc: BaseException) -> str:
    """A short, specific reason for a failed connection, e.g. ``"connection
    refused"``, ``"TLS certificate not trusted"``, ``"timed out while connecting"``."""
    chain = list(_causes(exc))
    text = " ".join(str(e) for e in chain)
    for item in chain:
        if isinstance(item, ssl.SSLCertVerificationError):
            if "hostname" in (item.verify_message or "").lower():
                return "TLS certificate is for another host name"
            detail = f" ({item.verify_message})" if item.verify_message else ""
            return f"TLS certificate not trusted{detail}"
    if "CERTIFICATE_VERIFY_FAILED" in text:
        return "TLS certificate not trusted"
    if any(isinstance(e, requests.exceptions.SSLError | ssl.SSLError) for e in chain):
        return "TLS handshake failed"
    if any(isinstance(e, requests.exceptions.ConnectTimeout) for e in chain):
        return "timed out while connecting"
    if any(isinstance(e, requests.exceptions.Timeout | TimeoutError) for e in chain):
        return "timed out waiting for the response"
    if any(isinstance(e, ConnectionRefusedError) for e in chain):
        return "connection refused"
    if any(isinstance(e, socket.gaierror) for e in chain) or "NameResolution" in text:
        return "host name not found"
    if any(isinstance(e, ConnectionResetError) for e in chain):
        return "connection reset"
    if "Network is unreachable" in text:
        return "network unreachable"
    if "RemoteDisconnected" in text or "Connection aborted" in text:
        return "connection closed by the server"
    return "connection failed"


def is_tls_failure(exc: BaseException) -> bool:
    """True when ``exc`` is a TLS problem (retrying cannot fix a certificate)."""
    return isinstance(exc, requests.exceptions.SSLError)


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to wait. ``jitter`` returns a number in [0, 1]."""

    max_retries: int = 5
    max_backoff: float = 60.0
    base_backoff: float = 1.0
    jitter: Callable[[], float] = field(default=random.random, repr=False)

    @classmethod
    def from_config(
        cls, config: GraphConfig, jitter: Callable[[], float] = random.random
    ) -> RetryPolicy:
        return cls(config.max_retries, config.max_backoff, config.base_backoff, jitter)

    def backoff_ceiling(self, attempt: int) -> float:
        """The longest backoff for retry number ``attempt`` (0-based)."""
        return min(self.max_backoff, self.base_backoff * (2.0**attempt))

    def backoff(self, attempt: int) -> float:
        """Full jitter: uniform between 0 and the exponential ceiling."""
        return self.jitter() * self.backoff_ceiling(attempt)

    def delay(self, attempt: int, retry_after: float | None) -> float | None:
        """The wait before retry ``attempt``: Graph's ``Retry-After`` when given,
        else the backoff. None when Graph asks for longer than ``max_backoff``
        (the caller should give up and let a scheduler try later)."""
        if retry_after is None:
            return self.backoff(attempt)
        return retry_after if retry_after <= self.max_backoff else None


def send_with_retries(
    send: Callable[[], requests.Response],
    *,
    method: str,
    url: str,
    policy: RetryPolicy,
    sleep: Sleep = time.sleep,
) -> requests.Response:
    """Call ``send`` (one HTTP request) until it gives a final answer.

    Returns the last response, which may still be a 429/503/504 when retries
    ran out or Graph asked to wait longer than ``max_backoff``; the caller turns
    that into Throttled/Unavailable. Side effect: calls ``sleep`` between
    attempts. Raises Unavailable when the connection fails (TLS at once; other
    failures after the retries of an idempotent method, at once otherwise).
    """
    attempt = 0
    while True:
        try:
            response = send()
        except (requests.ConnectionError, requests.Timeout) as exc:
            retry = method.upper() in IDEMPOTENT_METHODS and not is_tls_failure(exc)
            if not retry or attempt >= policy.max_retries:
                reason = describe_network_error(exc)
                host = urlsplit(url).netloc
                raise Unavailable(f"Could not reach {host}: {reason}", reason=reason) from exc
            sleep(policy.backoff(attempt))
            attempt += 1
            continue
        if response.status_code not in RETRY_STATUSES or attempt >= policy.max_retries:
            return response
        wait = policy.delay(attempt, parse_retry_after(response.headers.get("Retry-After")))
        if wait is None:
            return response
        response.close()
        sleep(wait)
        attempt += 1


class IdentityHttpClient:
    """The ``http_client`` MSAL gets: our session, our timeout, and one fix.

    MSAL builds its user-realm discovery URL from the authority's host name and
    drops a non-default port (AzureAD/microsoft-authentication-library-for-python
    issue 259, "could be solved by a custom http client"); requests to that
    port-less URL are sent to the authority's port again. Nothing changes for
    Microsoft's own hosts, which use 443.
    """

    def __init__(self, session: requests.Session, authority_host: str, timeout: float) -> None:
        self.session = session
        self.timeout = timeout
        parts = urlsplit(authority_host)
        self._host = parts.hostname or ""
        self._netloc = parts.netloc if parts.port not in (None, 443) else ""

    def _pin(self, url: str) -> str:
        parts = urlsplit(url)
        # MSAL puts a user name into the user-realm path unquoted; a name holding ".."
        # (plain, escaped or after a backslash) could reach another path of the host.
        segments = unquote(parts.path).replace("\\", "/").split("/")
        if ".." in segments or "." in segments:
            raise InvalidRequest(f"Refused an identity URL whose path is not plain: {parts.path}")
        if self._netloc and parts.scheme == "https" and parts.netloc == self._host:
            return parts._replace(netloc=self._netloc).geturl()
        return url

    def get(self, url: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", self.timeout)
        return self.session.get(self._pin(url), **kwargs)

    def post(self, url: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", self.timeout)
        return self.session.post(self._pin(url), **kwargs)

    def close(self) -> None:
        """MSAL may call this; the session belongs to the token provider, so no-op."""
