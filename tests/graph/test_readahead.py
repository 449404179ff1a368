"""graph.readahead: the next page is fetched while the caller works, never further ahead."""

import threading

import pytest

from graph.errors import Unavailable
from graph.readahead import ReadAhead


def _pages(log: list[str], count: int, fail_at: int | None = None):
    for number in range(count):
        log.append(f"fetch {number} in {threading.current_thread().name}")
        if number == fail_at:
            raise Unavailable("Graph went away", reason="test")
        yield number


def test_it_yields_every_page_in_order_fetching_in_the_background():
    log: list[str] = []
    with ReadAhead(_pages(log, 3)) as pages:
        assert list(pages) == [0, 1, 2]
    assert all("graph-read-ahead" in entry for entry in log)


def test_it_fetches_the_next_page_only_when_asked():
    log: list[str] = []
    with ReadAhead(_pages(log, 5)) as pages:
        assert next(pages) == 0
        assert len(log) == 1  # nothing fetched ahead without prefetch()
        pages.prefetch()
        pages.prefetch()  # a second call while one is on its way asks for nothing more
        assert next(pages) == 1
        assert len(log) == 2


def test_an_error_while_fetching_is_raised_in_the_callers_thread():
    log: list[str] = []
    seen = []
    with (
        pytest.raises(Unavailable, match="Graph went away"),
        ReadAhead(_pages(log, 5, fail_at=1)) as pages,
    ):
        for page in pages:
            seen.append(page)
            pages.prefetch()
    assert seen == [0]


def test_leaving_waits_for_a_fetch_still_running():
    started, release = threading.Event(), threading.Event()
    finished = []

    def slow():
        yield "first"
        started.set()
        release.wait(5)
        finished.append(True)
        yield "second"

    pages = ReadAhead(slow())
    assert next(pages) == "first"
    pages.prefetch()
    started.wait(5)
    threading.Timer(0.1, release.set).start()
    pages.close()
    assert finished == [True]
