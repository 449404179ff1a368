"""The webhook's counters (WebhookCounter), written as a group commit.

Every POST adds to a few named counters. Written one POST at a time, every web
thread queued for the same rows and spent a database round trip (two, with the
connection health check) on telemetry. Here a POST's counts join those waiting
in the process; one thread writes everything waiting in one statement while the
threads whose counts it carries wait for it, then the next batch goes out. A
POST still returns only once its counts are in the table (or the write failed:
the writing thread raises, and that batch is lost, as telemetry may be); a
thread on its own writes its own at once, as before.
"""

from __future__ import annotations

import threading
from collections import Counter

from django.db import connection
from django.utils import timezone

from presence.sync_models import WebhookCounter

_changed = threading.Condition()
_waiting: Counter[str] = Counter()
_writing = False
# Batches are numbered: counts added now go out in batch `_filling`; `_written` is the
# last batch in the table.
_filling = 1
_written = 0


def counters_add(counts: Counter[str]) -> None:
    """Add ``counts`` to the named counters (rows are created the first time).

    Side effects: one upsert for everything waiting in the process, or a wait for
    the thread already writing. Raises the database's error when this thread's
    write fails; the batch it carried is then lost.
    """
    global _writing, _filling, _written
    named = {name: number for name, number in counts.items() if number}
    if not named:
        return
    with _changed:
        _waiting.update(named)
        mine = _filling
        while _written < mine:
            if _writing:
                _changed.wait()
                continue
            _writing = True
            batch, number = +_waiting, _filling
            _waiting.clear()
            _filling += 1
            _changed.release()
            try:
                _upsert(batch)
            finally:
                # Written or failed, the batch is done: counts are telemetry, and a
                # failed write is not retried (this thread raises, as it always did).
                _changed.acquire()
                _writing = False
                _written = number
                _changed.notify_all()


def _upsert(counts: Counter[str]) -> None:
    """One statement for all names; on PostgreSQL without waiting for the WAL flush
    (counters are telemetry: a crash may lose the last fraction of a second of
    counts, never corrupt them), sent in the same round trip."""
    named = sorted(counts.items())
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    table = connection.ops.quote_name(WebhookCounter._meta.db_table)
    values = ", ".join(["(%s, %s, %s)"] * len(named))
    params = [value for name, number in named for value in (name, number, now)]
    # Sorted names: two processes bumping the same rows lock them in the same order.
    upsert = (
        f"INSERT INTO {table} (name, count, last_at) VALUES {values} "  # noqa: S608 - our names
        f"ON CONFLICT (name) DO UPDATE SET count = {table}.count + excluded.count, "
        "last_at = excluded.last_at"
    )
    with connection.cursor() as cursor:
        cursor.execute(_without_flush_wait(upsert), params)


def _without_flush_wait(statement: str) -> str:
    """``statement`` as its own transaction that commits without waiting for the WAL
    flush, where the database allows it in one round trip (PostgreSQL with
    client-side binding, Django's default, which sends both statements at once)."""
    options = connection.settings_dict.get("OPTIONS") or {}
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        return statement
    if options.get("server_side_binding"):
        return statement
    return "SET LOCAL synchronous_commit TO OFF; " + statement
