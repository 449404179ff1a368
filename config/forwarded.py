"""Noticing a proxy in front of the console that CLIENT_IP_PROXY_COUNT does not know about.

With CLIENT_IP_PROXY_COUNT = 0 a caller's address is REMOTE_ADDR. Behind a proxy
that is the proxy's own address for every caller, so one person's wrong passwords
lock a user out for everyone and junk POSTs throttle Graph's real notifications.
A request carrying X-Forwarded-For while the count is 0 gives the proxy away:
the first one logs a warning (once per process, so a busy webhook does not flood
the log) and leaves a mark in the shared cache that the dashboard shows to
Administrators, whichever process saw it.
"""

from __future__ import annotations

import logging
import time

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest

logger = logging.getLogger(__name__)

# The mark outlives a day without proxied traffic only if a process renews it.
MARK_SECONDS = 24 * 3600
# How often one process renews the mark: at most one cache write an hour, however
# many proxied requests it serves.
MARK_RENEW_SECONDS = 3600

_logged = False
_marked_at: dict[str, float] = {}


def _mark_key() -> str:
    return f"{settings.RATELIMIT_KEY_PREFIX}:forwarded-header-unused"


def forwarded_header_note(request: HttpRequest) -> bool:
    """True when `request` came through a proxy while CLIENT_IP_PROXY_COUNT is 0.

    Side effects, the first time in this process: logs a WARNING; then, at most
    once an hour, marks the shared cache so the dashboard can say so. A cache
    that cannot be reached is passed over: the warning is in the log anyway.
    """
    if settings.CLIENT_IP_PROXY_COUNT > 0 or not request.META.get("HTTP_X_FORWARDED_FOR"):
        return False
    global _logged
    if not _logged:
        _logged = True
        # The header's value is the caller's to write: it stays out of the log.
        logger.warning(
            "A request arrived with X-Forwarded-For but CLIENT_IP_PROXY_COUNT is 0: "
            "every caller shares the proxy's address for sign-in lockouts and webhook "
            "limits. Set CLIENT_IP_PROXY_COUNT to the number of proxies in front."
        )
    key = _mark_key()
    now = time.monotonic()
    if now - _marked_at.get(key, -MARK_RENEW_SECONDS) >= MARK_RENEW_SECONDS:
        _marked_at[key] = now
        try:
            cache.set(key, True, timeout=MARK_SECONDS)
        except Exception:
            logger.debug("Could not mark the unused X-Forwarded-For in the cache", exc_info=True)
    return True


def forwarded_header_seen() -> bool:
    """True when some process saw a proxied request in the last day while the count is 0."""
    if settings.CLIENT_IP_PROXY_COUNT > 0:
        return False
    try:
        return bool(cache.get(_mark_key()))
    except Exception:
        return False
