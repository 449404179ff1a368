"""Real parts for the fault tests: a Redis of the test's own that can be stopped and
started again, Celery workers on it that can be killed, and this process's Celery
app pointed at it (so the console's pages enqueue there too).

The machine's own Redis (6379) is never touched: every Redis here is started on a
free loopback port with no persistence, and stopped by the fixture that made it.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
import requests
from django.conf import settings

from config.celery import app as celery_app
from presence.rules.services import reason_codes_ensure
from tests.accounts.factories import BusinessUnitFactory
from tests.plugins.celery_worker import WorkerProcess, process_env, worker_start

REDIS_CACHE = "django.core.cache.backends.redis.RedisCache"
WORKER_TASKS = ("tests.support.worker_tasks", "tests.reliability.worker_tasks")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class RedisServer:
    """A `redis-server` on its own port, with no persistence: a restart loses its queues."""

    def __init__(self, log_path: Path) -> None:
        self.port = free_port()
        self.log_path = log_path
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url, socket_timeout=5)

    def start(self) -> None:
        command = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                   "--save", "", "--appendonly", "no", "--daemonize", "no"]  # fmt: skip
        with self.log_path.open("a") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while True:
            try:
                if self.client().ping():
                    return
            except redis.ConnectionError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not start:\n{self.log_path.read_text()}")
            time.sleep(0.05)

    def stop(self) -> None:
        """Stop the server (SIGTERM): with no persistence, whatever it held is gone."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)

    def queue_length(self, queue: str) -> int:
        return int(self.client().llen(queue))


def _use_broker(url: str) -> None:
    """Point this process's Celery app at `url`: new connections come from a new pool.

    The old pool is left open, not closed: producers cached elsewhere in the
    process may still hold it, and a closed pool fails their next publish."""
    celery_app.conf.broker_url = url
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    if shutil.which("redis-server") is None:
        pytest.skip("needs redis-server on PATH")
    server = RedisServer(tmp_path / "redis.log")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def broker(own_redis: RedisServer, settings) -> Iterator[RedisServer]:
    """The test's own Redis, used by this process's pages and tasks as their broker."""
    previous = celery_app.conf.broker_url
    settings.CELERY_BROKER_URL = own_redis.url
    _use_broker(own_redis.url)
    yield own_redis
    _use_broker(previous)


@pytest.fixture
def broker_and_cache(broker: RedisServer, settings) -> RedisServer:
    """As in production (one REDIS_URL): the test's own Redis is the cache as well."""
    settings.CACHES = {"default": {"BACKEND": REDIS_CACHE, "LOCATION": broker.url}}
    return broker


@pytest.fixture
def start_worker(
    broker: RedisServer, test_database_url, graphsim, graph_settings, transactional_db, tmp_path
) -> Iterator[Callable[..., WorkerProcess]]:
    """Start Celery workers on the test's own Redis; each is killed after the test."""
    started: list[WorkerProcess] = []

    def start(
        *, concurrency: int = 1, name: str = "reliability", env: dict[str, str] | None = None
    ) -> WorkerProcess:
        worker = worker_start(
            database_url=test_database_url,
            graphsim=graphsim,
            log_path=tmp_path / f"{name}-{len(started)}.log",
            broker_url=broker.url,
            concurrency=concurrency,
            include=WORKER_TASKS,
            name=name,
            extra_env=env,
        )
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.kill()  # the test is over: no need to let a long or retried task finish


@pytest.fixture
def unit(db):
    """The Voice business unit, with Break, Lunch, Training and Meeting reason codes."""
    unit = BusinessUnitFactory(name="Voice", code="voice")
    reason_codes_ensure(unit)
    return unit


class WebServer:
    """The console under gunicorn, as in production: persistent database connections
    (CONN_MAX_AGE) checked at the start of each request (CONN_HEALTH_CHECKS)."""

    def __init__(self, process: subprocess.Popen, port: int, log_path: Path) -> None:
        self.process = process
        self.url = f"http://127.0.0.1:{port}"
        self.log_path = log_path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def session(self, client=None) -> requests.Session:
        """An HTTP session; signed in as the user of a Django test `client` when given."""
        session = requests.Session()
        session.trust_env = False
        if client is not None:
            session.cookies.set("sessionid", client.cookies["sessionid"].value)
        return session


@pytest.fixture
def web_server(
    broker: RedisServer, test_database_url, graphsim, transactional_db, tmp_path
) -> Iterator[WebServer]:
    """gunicorn serving the console on a free port, on the test database and own Redis."""
    port = free_port()
    log_path = tmp_path / "web.log"
    env = process_env(database_url=test_database_url, graphsim=graphsim, broker_url=broker.url)
    command = [sys.executable, "-m", "gunicorn", "config.wsgi", "--bind", f"127.0.0.1:{port}",
               "--workers", "1", "--threads", "1", "--timeout", "60"]  # fmt: skip
    with log_path.open("w") as log:
        process = subprocess.Popen(
            command, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=settings.BASE_DIR
        )
    server = WebServer(process, port, log_path)
    deadline = time.monotonic() + 30
    while True:
        try:
            requests.get(f"{server.url}/healthz", timeout=5)
            break
        except requests.ConnectionError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail(f"gunicorn did not start:\n{server.log()}")
            time.sleep(0.2)
    yield server
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=15)
