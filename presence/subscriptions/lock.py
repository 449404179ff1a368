"""One subscription sync at a time, across processes.

Two processes creating the same subscription would each get a 409 and delete
the other's. PostgreSQL: a session advisory lock (released if the process
dies). SQLite means one machine, so a file lock under VAR_DIR serves.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

from django.conf import settings
from django.db import connection

_LOCK_KEY = 0x636362_5355  # "ccb" "SU"


@contextlib.contextmanager
def subscriptions_exclusive(wait: float) -> Iterator[bool]:
    """Hold the subscription lock, waiting up to ``wait`` seconds; yields
    whether it was acquired (the caller skips its work when not)."""
    deadline = time.monotonic() + wait
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            while True:
                cursor.execute("SELECT pg_try_advisory_lock(%s)", [_LOCK_KEY])
                got = bool(cursor.fetchone()[0])
                if got or time.monotonic() >= deadline:
                    break
                time.sleep(0.2)
        try:
            yield got
        finally:
            if got:
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_unlock(%s)", [_LOCK_KEY])
        return
    try:
        import fcntl
    except ImportError:  # not POSIX: a single-process installation
        yield True
        return
    with open(settings.VAR_DIR / "subscriptions.lock", "a") as handle:
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                got = True
            except BlockingIOError:
                got = False
            if got or time.monotonic() >= deadline:
                break
            time.sleep(0.2)
        try:
            yield got
        finally:
            if got:
                fcntl.flock(handle, fcntl.LOCK_UN)
