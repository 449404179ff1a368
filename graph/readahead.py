"""Read the next page of a Graph collection while the caller is still saving this one.

A sync that fetches a page, then writes it, then fetches the next one waits on
Graph and on its database in turn. :class:`ReadAhead` lets those waits overlap:
once the caller has everything it needs from the current page it calls
:meth:`ReadAhead.prefetch`, and the next page is requested in a background
thread while the caller writes. At most one page is ever fetched ahead, so
memory stays at two pages whatever the size of the collection.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from types import TracebackType

_DONE = object()


class ReadAhead[T]:
    """Iterate ``source`` (e.g. :meth:`graph.client.GraphClient.delta`), one item ahead on request.

    ``next()`` returns the item asked for by the last :meth:`prefetch`, or fetches
    one at once when none was asked for. Errors raised while fetching (Graph's
    typed errors) are raised by ``next()``, in the caller's thread. Use it as a
    context manager: leaving waits for a fetch still running, so no request
    outlives the sync. The background thread only talks HTTP: the source must
    not touch the database (each thread has its own connection).
    """

    def __init__(self, source: Iterator[T]) -> None:
        self._source = source
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="graph-read-ahead")
        self._pending: Future | None = None

    def __iter__(self) -> ReadAhead[T]:
        return self

    def __next__(self) -> T:
        pending, self._pending = self._pending or self._submit(), None
        item = pending.result()
        if item is _DONE:
            raise StopIteration
        return item

    def prefetch(self) -> None:
        """Start fetching the next item in the background (no-op if one is on its way)."""
        self._pending = self._pending or self._submit()

    def _submit(self) -> Future:
        return self._executor.submit(next, self._source, _DONE)

    def close(self) -> None:
        """Wait for a fetch still running, then stop the background thread."""
        self._executor.shutdown(wait=True, cancel_futures=True)
        self._pending = None

    def __enter__(self) -> ReadAhead[T]:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
