"""A real Celery worker process for tests whose tasks cross the broker.

The worker is started once per session against the test database and the
test broker (Redis in CI, the filesystem transport otherwise) and consumes
every queue under the session's own (config/queues.py). Tests that use it
must commit their data, so they use `transactional_db`.

`worker_start` starts further workers, e.g. on a test's own Redis
(`broker_url`) or with a single process to kill (tests/reliability/).
"""

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connections

from config.queues import queues_all

READY_TIMEOUT_SECONDS = 60


def _database_url(db: dict) -> str:
    if db["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{db['NAME']}"
    credentials = quote(db["USER"] or "", safe="")
    if db.get("PASSWORD"):
        credentials += ":" + quote(db["PASSWORD"], safe="")
    host = db["HOST"] or "127.0.0.1"
    port = f":{db['PORT']}" if db.get("PORT") else ""
    return f"postgres://{credentials}@{host}{port}/{db['NAME']}"


class WorkerProcess:
    def __init__(self, process: subprocess.Popen, log_path: Path):
        self.process = process
        self.log_path = log_path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def pool_pids(self) -> list[int]:
        """The prefork pool's child processes (the ones that run tasks)."""
        pid = self.process.pid
        try:
            children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        except OSError:
            return []
        return [int(child) for child in children]

    def stop(self) -> None:
        """Warm shutdown, then a kill if the worker does not leave within 15 s."""
        if self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        """SIGKILL the worker and its pool, as the OOM killer or a lost machine would."""
        for child in self.pool_pids():
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signal.SIGKILL)
        self.process.kill()
        self.process.wait(timeout=15)


def process_env(
    *,
    database_url: str,
    graphsim,
    broker_url: str | None = None,
    queue: str | None = None,
    extra: dict[str, str] | None = None,
) -> dict[str, str]:
    """The environment of a console process (worker, web) the tests start: the test
    database, the session's queue and simulator, `broker_url` and `extra` when given."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "CELERY_QUEUE": queue or settings.CELERY_TASK_DEFAULT_QUEUE,
        "PYTHONUNBUFFERED": "1",
        "GRAPH_AUTHORITY_HOST": graphsim.authority_host,
        "GRAPH_BASE_URL": graphsim.graph_url,
        "GRAPH_CA_BUNDLE": graphsim.ca_path,
    }
    if broker_url is not None:
        env["REDIS_URL"] = broker_url
    return {**env, **(extra or {})}


def worker_start(
    *,
    database_url: str,
    graphsim,
    log_path: Path,
    broker_url: str | None = None,
    queue: str | None = None,
    concurrency: int = 2,
    include: tuple[str, ...] = ("tests.support.worker_tasks",),
    name: str = "test",
    extra_env: dict[str, str] | None = None,
) -> WorkerProcess:
    """Start `celery worker` in a subprocess and return it once it is ready to consume.

    `broker_url` (a redis:// URL) overrides the session's broker; the worker
    reaches Microsoft Graph at the session's simulator.
    """
    env = process_env(
        database_url=database_url,
        graphsim=graphsim,
        broker_url=broker_url,
        queue=queue,
        extra=extra_env,
    )
    command = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "config",
        "worker",
        "--loglevel",
        "INFO",
        "--pool",
        "prefork",
        "--concurrency",
        str(concurrency),
        "--queues",
        ",".join(queues_all(env["CELERY_QUEUE"])),
        "--include",
        ",".join(include),
        "--without-gossip",
        "--without-mingle",
        "--hostname",
        f"{name}-{os.getpid()}@%h",
    ]
    with log_path.open("w") as log:
        process = subprocess.Popen(
            command, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=settings.BASE_DIR
        )
    worker = WorkerProcess(process, log_path)
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    while " ready." not in worker.log():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"Celery worker did not start:\n{worker.log()}")
        time.sleep(0.2)
    return worker


@pytest.fixture(scope="session")
def test_database_url(django_db_setup, django_db_blocker) -> str:
    """The test database as a DATABASE_URL, for processes the tests start."""
    with django_db_blocker.unblock():
        return _database_url(connections["default"].settings_dict)


@pytest.fixture(scope="session")
def celery_worker_process(test_database_url, tmp_path_factory, graphsim):
    """Start `celery worker` in a subprocess; yield it once it is ready to consume.

    The worker reaches Microsoft Graph at the session's simulator, like the
    test process does through the `graph_settings` fixture.
    """
    worker = worker_start(
        database_url=test_database_url,
        graphsim=graphsim,
        log_path=tmp_path_factory.mktemp("worker") / "worker.log",
    )
    yield worker
    worker.stop()


@pytest.fixture
def celery_worker(celery_worker_process, transactional_db, graph_settings) -> WorkerProcess:
    """The session's worker, for a test whose data is committed."""
    return celery_worker_process


def wait_for(predicate, *, timeout: float = 20.0, interval: float = 0.1, what: str = "condition"):
    """Poll `predicate` until it returns a truthy value; fail the test on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)
