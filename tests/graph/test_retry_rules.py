"""Retry-After parsing and backoff bounds (docs/graph.md, "Batching, errors, throttling":
429 comes with Retry-After in seconds, possibly fractional; without the header the
client backs off exponentially; 503 and 504 alike)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from graph.http import RetryPolicy, parse_retry_after


@pytest.mark.parametrize(
    ("header", "seconds"),
    [("2", 2.0), ("1.5", 1.5), (" 0.25 ", 0.25), ("0", 0.0), ("-3", 0.0), ("", None),
     (None, None), ("soon", None), ("nan", None)],
)  # fmt: skip
def test_retry_after_in_seconds(header: str | None, seconds: float | None) -> None:
    assert parse_retry_after(header) == seconds


def test_retry_after_as_an_http_date() -> None:
    now = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("Wed, 01 Jan 2025 12:00:30 GMT", now=now) == 30.0
    assert parse_retry_after("Wed, 01 Jan 2025 11:00:00 GMT", now=now) == 0.0


def test_backoff_doubles_up_to_the_ceiling() -> None:
    policy = RetryPolicy(max_retries=8, max_backoff=10.0, base_backoff=1.0, jitter=lambda: 1.0)
    assert [policy.backoff(n) for n in range(6)] == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]


@given(
    attempt=st.integers(min_value=0, max_value=60),
    max_backoff=st.floats(min_value=0, max_value=600),
    base=st.floats(min_value=0, max_value=10),
    fraction=st.floats(min_value=0, max_value=1),
)
def test_full_jitter_stays_between_zero_and_the_ceiling(
    attempt: int, max_backoff: float, base: float, fraction: float
) -> None:
    policy = RetryPolicy(5, max_backoff, base, jitter=lambda: fraction)
    assert 0.0 <= policy.backoff(attempt) <= min(max_backoff, base * 2**attempt)


def test_delay_prefers_retry_after_and_gives_up_when_it_is_too_long() -> None:
    policy = RetryPolicy(5, max_backoff=30.0, jitter=lambda: 0.5)
    assert policy.delay(0, 1.5) == 1.5
    assert policy.delay(3, None) == 4.0
    assert policy.delay(0, 31.0) is None
