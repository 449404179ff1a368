"""`make test-fast` runs only the parallel pass: it leaves out browser, worker and
simulator tests, and every `serial` test is one of those. This keeps it so, instead of
letting the quick loop skip a serial test that needs neither."""

import pytest

SLOW_MARKERS = ("worker", "browser", "simulator")


@pytest.hookimpl(trylast=True)  # after the plugins that add `worker` and `simulator`
def pytest_collection_modifyitems(items):
    stray = [
        item.nodeid
        for item in items
        if item.get_closest_marker("serial")
        and not any(item.get_closest_marker(name) for name in SLOW_MARKERS)
    ]
    if stray:
        raise pytest.UsageError(
            "serial tests must also be worker, browser or simulator tests, or "
            "`make test-fast` would never run them: " + ", ".join(stray)
        )
