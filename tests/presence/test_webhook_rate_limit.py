"""The webhook's refusal limit across web processes: a count read from the shared cache
is reused for a second (config/ratelimit.py, PEEK_MEMORY_SECONDS)."""

import time

import pytest
from django.core.cache import cache
from django.test import Client

from config import ratelimit

NOTIFICATIONS = "/graph/notifications"
IP = "203.0.113.77"


pytestmark = pytest.mark.usefixtures("rate_limit_window")


def junk():
    return Client(REMOTE_ADDR=IP).post(NOTIFICATIONS, data="junk", content_type="text/plain")


def refusals_by_another_process(count: int) -> None:
    """What other web processes do when they refuse requests from IP: count in the cache."""
    window, _left = ratelimit._window(time.time())
    key = ratelimit._key(ratelimit.WEBHOOK_SCOPE, IP, window)
    cache.set(key, count, timeout=ratelimit.WINDOW_SECONDS + 5)


def test_refusals_counted_elsewhere_block_the_address_within_a_second(db, settings, clock):
    settings.WEBHOOK_REJECT_LIMIT_PER_MINUTE = 5
    assert junk().status_code == 400

    refusals_by_another_process(5)
    clock.advance(ratelimit.PEEK_MEMORY_SECONDS + 0.1)

    assert junk().status_code == 429


def test_this_process_s_own_refusals_block_at_once(db, settings):
    settings.WEBHOOK_REJECT_LIMIT_PER_MINUTE = 3
    assert [junk().status_code for _ in range(3)] == [400, 400, 400]
    assert junk().status_code == 429
