"""Rate limits kept in Django's cache: the contact-center API per key, the Graph webhook per IP.

Counting is a fixed one-minute window: one cache key per subject and minute,
bumped with `incr` (atomic on Redis, locked in locmem) and created with `add`,
so concurrent web processes share one count when the cache is Redis.
Every key starts with settings.RATELIMIT_KEY_PREFIX.

- The API: every authenticated request counts against its key; past
  API_RATE_LIMIT_PER_MINUTE it is answered 429 (config/api.py turns that into
  an RFC 9457 problem with Retry-After).
- The Graph webhook: only refused requests count, per client IP. Past
  WEBHOOK_REJECT_LIMIT_PER_MINUTE refusals the IP is answered 429 before its
  body is read, checked or decrypted. Accepted notifications never count, so
  a busy tenant is never slowed down for being busy. A refusal is a 400 (junk,
  forged validation tokens, nesting too deep), 405 or 413 (too large, too many
  items); or a 202 the view marks with
  counted_as_refused: a POST none of whose items came from one of our
  subscriptions with its clientState. Such a POST counts once, like a 400:
  its 202 still tells the sender nothing (a right subscription id with a wrong
  clientState is charged the same as a made-up id), but made-up ids are no
  longer free to send. A POST with one genuine item is never charged for its
  other items. Graph itself is charged only for a POST that names nothing but
  subscriptions deleted here and not in Graph (a failed best-effort delete;
  they expire within the hour), usually batched with live ones anyway.
  The check before the view reuses a count read in the last second
  (PEEK_MEMORY_SECONDS), so it costs no cache round trip on a busy webhook.

When the cache cannot be reached the limits fail open: the request is let
through uncounted (a warning is logged at most once a minute per process), so
an outage of Redis never turns into refused API calls or lost notifications.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from ninja.throttling import BaseThrottle

from config.forwarded import forwarded_header_note

logger = logging.getLogger(__name__)

WINDOW_SECONDS = 60


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    count: int
    retry_after: int


def _window(now: float) -> tuple[int, int]:
    """The current window's number and the whole seconds left in it (at least 1)."""
    number = int(now // WINDOW_SECONDS)
    left = WINDOW_SECONDS - int(now % WINDOW_SECONDS)
    return number, max(left, 1)


def _key(scope: str, subject: str, window: int) -> str:
    return f"{settings.RATELIMIT_KEY_PREFIX}:{scope}:{subject}:{window}"


UNLIMITED = Verdict(allowed=True, count=0, retry_after=0)
_last_outage_warning = 0.0


def _cache_down(exc: Exception) -> Verdict:
    """Let the request through uncounted; say so in the log at most once a minute."""
    global _last_outage_warning
    now = time.monotonic()
    if now - _last_outage_warning >= WINDOW_SECONDS:
        _last_outage_warning = now
        logger.warning("Rate limits are off while the cache is unreachable: %s", exc)
    return UNLIMITED


def hit(scope: str, subject: str, limit: int) -> Verdict:
    """Count one event for `subject` in the current minute; allowed while the count ≤ limit.

    A limit of 0 or less switches the limit off (nothing is counted).
    """
    if limit <= 0:
        return UNLIMITED
    window, left = _window(time.time())
    key = _key(scope, subject, window)
    try:
        try:
            count = cache.incr(key)
        except ValueError:
            # The window's first event creates its key, which expires with the window;
            # when another process created it in between, count on top of theirs.
            created = cache.add(key, 1, timeout=WINDOW_SECONDS + 5)
            count = 1 if created else cache.incr(key)
    except Exception as exc:  # the cache backend's own connection errors
        return _cache_down(exc)
    _remember(key, count)
    return Verdict(allowed=count <= limit, count=count, retry_after=left)


def peek(scope: str, subject: str, limit: int) -> Verdict:
    """The current minute's count for `subject`, without counting anything.

    A count this process read or made less than PEEK_MEMORY_SECONDS ago is used
    without asking the cache (see _remember).
    """
    if limit <= 0:
        return UNLIMITED
    window, left = _window(time.time())
    key = _key(scope, subject, window)
    count = _remembered(key)
    if count is None:
        try:
            count = cache.get(key, 0)
        except Exception as exc:
            return _cache_down(exc)
        _remember(key, count)
    return Verdict(allowed=count < limit, count=count, retry_after=left)


# Counts only grow within a window, so a remembered count is a floor. Peeking is what
# every webhook POST does first, and under load its cache round trip was a fifth of
# the request's time: a count is reused for a second, so refusals counted by OTHER
# processes block an address up to a second later. This process's own refusals are
# remembered as they are counted, so they block at once.
PEEK_MEMORY_SECONDS = 1.0
_MEMORY_MAX_ENTRIES = 4096
_memory: dict[str, tuple[float, int]] = {}


def _remembered(key: str) -> int | None:
    kept = _memory.get(key)
    if kept is None or time.monotonic() - kept[0] >= PEEK_MEMORY_SECONDS:
        return None
    return kept[1]


def _remember(key: str, count: int) -> None:
    if len(_memory) >= _MEMORY_MAX_ENTRIES:
        _memory.clear()
    _memory[key] = (time.monotonic(), count)


def client_ip(request: HttpRequest) -> str | None:
    """The caller's address: REMOTE_ADDR, or the X-Forwarded-For entry our proxies added.

    With CLIENT_IP_PROXY_COUNT = N > 0 the N-th address from the right of
    X-Forwarded-For is used: the one the outermost trusted proxy saw. Entries
    further left are written by the caller and could be anything. With 0 and an
    X-Forwarded-For header, a proxy nobody told us about is pointed out
    (config.forwarded).
    """
    proxies = settings.CLIENT_IP_PROXY_COUNT
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if proxies <= 0 and forwarded:
        forwarded_header_note(request)
    if proxies > 0 and forwarded:
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        if hops:
            return hops[-min(proxies, len(hops))]
    return request.META.get("REMOTE_ADDR") or None


# --- The contact-center API: per key ---------------------------------------------------


class ApiKeyThrottle(BaseThrottle):
    """django-ninja throttle: API_RATE_LIMIT_PER_MINUTE requests per API key and minute.

    Runs after authentication, so `request.auth` is the caller's ApiKey; a
    request that failed authentication never gets here and never counts.
    """

    scope = "api"

    def allow_request(self, request: HttpRequest) -> bool:
        key = getattr(request, "auth", None)
        prefix = getattr(key, "prefix", None)
        if prefix is None:
            return True
        verdict = hit(self.scope, prefix, settings.API_RATE_LIMIT_PER_MINUTE)
        if not verdict.allowed and verdict.count == settings.API_RATE_LIMIT_PER_MINUTE + 1:
            logger.warning("API key %s… is over its rate limit", prefix)
        return verdict.allowed

    def wait(self) -> float:
        # A fixed window: the wait depends only on the clock, not on the caller.
        return float(_window(time.time())[1])


# --- The Graph webhook: refusals per client IP ------------------------------------------

WEBHOOK_SCOPE = "webhook-rejects"
# Answers that mean the request itself was refused (junk, forged tokens, too large,
# wrong method). 503 is our fault and 2xx is accepted: neither counts.
REFUSED_STATUSES = frozenset({400, 403, 405, 413, 415})


_REFUSED_MARK = "_counts_as_webhook_refusal"


def counted_as_refused(response: HttpResponse) -> HttpResponse:
    """Mark ``response`` to count as a refusal whatever its status (the mark is an
    attribute, never sent to the caller)."""
    setattr(response, _REFUSED_MARK, True)
    return response


def _too_many(retry_after: int) -> HttpResponse:
    response = HttpResponse(
        "Too many refused notifications from this address; retry later.",
        status=429,
        content_type="text/plain",
    )
    response["Retry-After"] = str(retry_after)
    return response


def webhook_rejects_limited(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Answer 429 early to an IP that sent too many refused webhook requests this minute.

    Side effects: counts each refused request (REFUSED_STATUSES, or marked with
    counted_as_refused) against the caller's IP in the cache. Before the view
    runs only a cache read happens, so a blocked caller costs no body read,
    query or decryption.
    """

    @wraps(view)
    def limited(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        limit = settings.WEBHOOK_REJECT_LIMIT_PER_MINUTE
        ip = client_ip(request) or "unknown"
        before = peek(WEBHOOK_SCOPE, ip, limit)
        if not before.allowed:
            return _too_many(before.retry_after)
        response = view(request, *args, **kwargs)
        if response.status_code in REFUSED_STATUSES or getattr(response, _REFUSED_MARK, False):
            verdict = hit(WEBHOOK_SCOPE, ip, limit)
            if verdict.count == limit:
                logger.warning("Graph webhook: %s sent %s refused requests; blocking", ip, limit)
        return response

    return limited
