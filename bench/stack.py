"""The running product for the end-to-end rows: gunicorn and a Celery worker as subprocesses.

Both point at the bench's throwaway database, the broker (Redis when REDIS_URL
is set, else the filesystem broker under the bench's var/), the bench's
simulator and a queue of their own, with production settings (DEBUG off).
Everything is on loopback and stopped by :meth:`Stack.stop`.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from django.conf import settings
from django.db import connection

from config.queues import queues_all

REPO_ROOT = Path(__file__).resolve().parent.parent
READY_TIMEOUT_SECONDS = 60.0
STOP_TIMEOUT_SECONDS = 15.0
# gthread keeps connections alive (sync workers close each one), as a proxy in front would.
WEB_WORKERS = 3
WEB_THREADS = 4
# An event's task mostly waits (the simulator closes every connection, so each Graph
# call is a new TLS handshake; then the database): 8 processes keep 2 cores busy.
WORKER_CONCURRENCY = 8
# A generous limit for the webhook's own rate limiting: the bench measures throughput.
BENCH_RATE_LIMIT = "1000000"
# The bare view the webhook is compared with (bench/wsgi.py mounts it).
FLOOR_PATH = "bench/floor"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def database_url() -> str:
    """The URL of the database this process uses (the bench's throwaway one)."""
    db = connection.settings_dict
    if db["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{db['NAME']}"
    credentials = quote(db["USER"] or "", safe="")
    if db.get("PASSWORD"):
        credentials += ":" + quote(db["PASSWORD"], safe="")
    port = f":{db['PORT']}" if db.get("PORT") else ""
    return f"postgres://{credentials}@{db['HOST'] or '127.0.0.1'}{port}/{db['NAME']}"


@dataclass
class Process:
    name: str
    popen: subprocess.Popen
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.popen.poll() is not None:
            return
        self.popen.terminate()
        try:
            self.popen.wait(timeout=STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait(timeout=STOP_TIMEOUT_SECONDS)


@dataclass
class Stack:
    """Subprocesses sharing the bench's database, broker and simulator.

    ``queue`` is the Celery queue web and worker share; nothing else consumes it.
    """

    log_dir: Path
    queue: str = field(default_factory=lambda: f"bench-{os.getpid()}-{int(time.time())}")
    processes: list[Process] = field(default_factory=list)
    web_url: str = ""

    def env(self, **extra: str) -> dict[str, str]:
        """The environment of a product process (settings are read from it)."""
        env = {
            **os.environ,
            "DATABASE_URL": database_url(),
            "DATABASE_CONN_MAX_AGE": "600",
            "CELERY_QUEUE": self.queue,
            "DJANGO_DEBUG": "false",
            "SECRET_KEY": "bench-only-secret-key-" + self.queue,
            # The same keys as this process, so secrets it stored can be read there.
            "CCBRIDGE_ENCRYPTION_KEYS": ",".join(settings.CCBRIDGE_ENCRYPTION_KEYS),
            # Production mode names Graph explicitly: here, the simulator this run started.
            "GRAPH_AUTHORITY_HOST": settings.GRAPH_AUTHORITY_HOST,
            "GRAPH_BASE_URL": settings.GRAPH_BASE_URL,
            "GRAPH_CA_BUNDLE": settings.GRAPH_CA_BUNDLE,
            "SECURE_SSL_REDIRECT": "false",
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "LOG_LEVEL": "WARNING",
            "API_RATE_LIMIT_PER_MINUTE": BENCH_RATE_LIMIT,
            "WEBHOOK_REJECT_LIMIT_PER_MINUTE": BENCH_RATE_LIMIT,
            "PYTHONUNBUFFERED": "1",
            "PYTHONPATH": str(REPO_ROOT),
        }
        if self.web_url:
            env["CCBRIDGE_PUBLIC_URL"] = self.web_url
        env.update(extra)
        return env

    def _spawn(self, name: str, argv: list[str], env: dict[str, str]) -> Process:
        log_path = self.log_dir / f"{name}.log"
        with log_path.open("wb") as log:
            popen = subprocess.Popen(  # noqa: S603 - this interpreter, fixed modules
                argv, stdout=log, stderr=subprocess.STDOUT, cwd=REPO_ROOT, env=env
            )
        process = Process(name, popen, log_path)
        self.processes.append(process)
        return process

    def start_web(
        self, *, workers: int = WEB_WORKERS, threads: int = WEB_THREADS, name: str = "web"
    ) -> str:
        """Start gunicorn (bench.wsgi: the product plus the floor view); returns its URL.

        Raises RuntimeError with the log when it does not answer in time.
        """
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        self.web_url = self.web_url or url
        argv = [
            sys.executable, "-m", "gunicorn", "bench.wsgi:application",
            "--bind", f"127.0.0.1:{port}", "--worker-class", "gthread",
            "--workers", str(workers), "--threads", str(threads),
            "--keep-alive", "30", "--backlog", "2048", "--log-level", "warning",
        ]  # fmt: skip
        process = self._spawn(name, argv, self.env(CCBRIDGE_PUBLIC_URL=self.web_url))
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if process.popen.poll() is not None:
                break
            if _answers(port):
                return url
            time.sleep(0.2)
        process.stop()
        raise RuntimeError(f"gunicorn did not start:\n{process.log()[-3000:]}")

    def start_worker(self, *, concurrency: int = WORKER_CONCURRENCY) -> Process:
        """Start a Celery worker on the stack's queue; returns once it is ready."""
        argv = [
            sys.executable, "-m", "celery", "-A", "config", "worker",
            "--pool", "prefork", "--concurrency", str(concurrency),
            "--queues", ",".join(queues_all(self.queue)), "--loglevel", "INFO",
            "--without-gossip", "--without-mingle", "--without-heartbeat",
            "--hostname", f"{self.queue}@%h",
        ]  # fmt: skip
        # INFO for the " ready." line; the product's own loggers stay at WARNING.
        process = self._spawn("worker", argv, self.env())
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        while " ready." not in process.log():
            if process.popen.poll() is not None or time.monotonic() > deadline:
                process.stop()
                raise RuntimeError(f"the Celery worker did not start:\n{process.log()[-3000:]}")
            time.sleep(0.2)
        return process

    def queued(self) -> int:
        """How many task messages wait on the stack's queues (config/queues.py)."""
        names = queues_all(self.queue)
        if settings.REDIS_URL:
            import redis

            with redis.Redis.from_url(settings.REDIS_URL) as client:
                return sum(int(client.llen(name)) for name in names)
        return sum(len(list(settings.BROKER_DIR.glob(f"*.{name}.msg"))) for name in names)

    def purge(self) -> int:
        """Drop every message waiting on the stack's queue; returns how many there were."""
        waiting = self.queued()
        if settings.REDIS_URL:
            import redis

            with redis.Redis.from_url(settings.REDIS_URL) as client:
                client.delete(*queues_all(self.queue))
        else:
            for name in queues_all(self.queue):
                for path in settings.BROKER_DIR.glob(f"*.{name}.msg"):
                    path.unlink(missing_ok=True)
        return waiting

    def stop(self) -> None:
        """Stop every process (newest first); drop the queue and its routing entries."""
        for process in reversed(self.processes):
            process.stop()
        self.processes.clear()
        self.purge()
        if settings.REDIS_URL:
            import redis

            with redis.Redis.from_url(settings.REDIS_URL) as client:
                # kombu's exchange bindings for the queue, left behind by web and worker.
                for name in queues_all(self.queue):
                    client.delete(f"_kombu.binding.{name}", f"_kombu.binding_permanent.{name}")


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            return sock.recv(12).startswith(b"HTTP/1.1")
    except OSError:
        return False
