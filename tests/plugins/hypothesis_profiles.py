"""Hypothesis profiles: "default" (`make test`) and "fast" (`make test-fast`).

`make test` runs every property and fuzz test with the examples it asks for; the quick
loop (`pytest --hypothesis-profile fast`) runs each with at most FAST_EXAMPLES, enough
to catch a test broken outright without the cost of a search. A test that sets its own
count writes `max_examples=examples(200)`, so both profiles hold for it too.
"""

from hypothesis import settings

FAST_PROFILE = "fast"
FAST_EXAMPLES = 5

settings.register_profile(FAST_PROFILE, max_examples=FAST_EXAMPLES)


def examples(count: int) -> int:
    """`count`, or at most FAST_EXAMPLES under the fast profile."""
    if settings.get_current_profile_name() == FAST_PROFILE:
        return min(count, FAST_EXAMPLES)
    return count
