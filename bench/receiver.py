"""The contact center's side of the Teams → ACD direction: a tiny webhook receiver.

It checks each POST's signature as an ACD would, records when it arrived
(wall clock, the same clock the console stamps ``occurred_at`` with) and
answers 200.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Arrival:
    at: float  # epoch seconds
    payload: dict[str, Any]


class AcdReceiver:
    """Records signed deliveries in ``arrivals``; unsigned or badly signed ones in ``refused``."""

    def __init__(self, secret: str) -> None:
        self.secret = secret.encode()
        self.arrivals: list[Arrival] = []
        self.refused = 0
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                arrived = time.time()
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                receiver.record(arrived, self.headers, body)
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/acd/presence"

    def record(self, arrived: float, headers: Any, body: bytes) -> None:
        timestamp = headers.get("X-Ccbridge-Timestamp", "")
        given = headers.get("X-Ccbridge-Signature", "")
        expected = hmac.new(self.secret, timestamp.encode() + b"." + body, hashlib.sha256)
        with self.lock:
            if not hmac.compare_digest(given, "sha256=" + expected.hexdigest()):
                self.refused += 1
                return
            self.arrivals.append(Arrival(arrived, json.loads(body)))

    def taken(self) -> list[Arrival]:
        """Every arrival so far, and start afresh."""
        with self.lock:
            arrivals, self.arrivals = self.arrivals, []
        return arrivals

    def count(self) -> int:
        with self.lock:
            return len(self.arrivals)

    def start(self) -> AcdReceiver:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
