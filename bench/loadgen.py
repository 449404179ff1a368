"""A small HTTP/1.1 load generator: keep-alive connections, prepared requests, bounded runs.

Each connection sends one request, waits for the whole answer, records the
latency and sends the next (closed loop), cycling through requests prepared
in advance so the generator spends its time on sockets, not on building
bodies. A run stops at ``max_requests`` or ``seconds``, whichever comes first.
Loopback only.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field
from itertools import count
from urllib.parse import urlsplit


@dataclass
class LoadResult:
    latencies: list[float] = field(default_factory=list)  # seconds, successful requests
    statuses: Counter[int] = field(default_factory=Counter)
    errors: int = 0
    reconnects: int = 0
    elapsed: float = 0.0

    @property
    def ok(self) -> int:
        return len(self.latencies)


def prepare(url: str, bodies: list[bytes]) -> list[bytes]:
    """Complete HTTP/1.1 POST requests (JSON) for ``bodies`` to ``url``."""
    parts = urlsplit(url)
    if parts.hostname not in ("127.0.0.1", "localhost", "::1"):
        raise ValueError("the load generator only talks to loopback")
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    host = parts.netloc
    return [
        (
            f"POST {target} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: keep-alive\r\n\r\n"
        ).encode()
        + body
        for body in bodies
    ]


async def _read_answer(reader: asyncio.StreamReader) -> tuple[int, bool]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    length, close = 0, False
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"connection" and value.strip().lower() == b"close":
            close = True
    if length:
        await reader.readexactly(length)
    return status, close


async def _connection(
    host: str,
    port: int,
    requests: list[bytes],
    tickets: count,
    limit: int,
    deadline: float,
    result: LoadResult,
) -> None:
    reader = writer = None
    try:
        while time.perf_counter() < deadline:
            ticket = next(tickets)
            if ticket >= limit:
                return
            if writer is None:
                reader, writer = await asyncio.open_connection(host, port)
            started = time.perf_counter()
            try:
                writer.write(requests[ticket % len(requests)])
                status, close = await _read_answer(reader)
            except (OSError, asyncio.IncompleteReadError, ValueError):
                result.errors += 1
                writer.close()
                reader = writer = None
                result.reconnects += 1
                continue
            result.statuses[status] += 1
            if 200 <= status < 300:
                result.latencies.append(time.perf_counter() - started)
            if close:
                writer.close()
                reader = writer = None
                result.reconnects += 1
    finally:
        if writer is not None:
            writer.close()


async def _run(
    url: str, requests: list[bytes], connections: int, limit: int, seconds: float
) -> LoadResult:
    parts = urlsplit(url)
    result = LoadResult()
    tickets = count()
    started = time.perf_counter()
    deadline = started + seconds
    await asyncio.gather(
        *(
            _connection(parts.hostname, parts.port, requests, tickets, limit, deadline, result)
            for _ in range(connections)
        )
    )
    result.elapsed = time.perf_counter() - started
    return result


def run(
    url: str, requests: list[bytes], *, connections: int, max_requests: int, seconds: float
) -> LoadResult:
    """POST the prepared ``requests`` in turn over ``connections`` keep-alive connections.

    Never raises for HTTP or socket failures (they are counted in the result).
    """
    return asyncio.run(_run(url, requests, connections, max_requests, seconds))
