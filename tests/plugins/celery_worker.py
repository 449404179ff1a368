"""A real Celery worker process for tests whose tasks cross the broker.

The worker is started once per session against the test database and the
test broker (Redis in CI, the filesystem transport otherwise) and consumes
the session's own queue. Tests that use it must commit their data, so they
use `transactional_db`.
"""

import os
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connections

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


@pytest.fixture(scope="session")
def celery_worker_process(django_db_setup, django_db_blocker, tmp_path_factory, graphsim):
    """Start `celery worker` in a subprocess; yield it once it is ready to consume.

    The worker reaches Microsoft Graph at the session's simulator, like the
    test process does through the `graph_settings` fixture.
    """
    with django_db_blocker.unblock():
        database_url = _database_url(connections["default"].settings_dict)
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "CELERY_QUEUE": settings.CELERY_TASK_DEFAULT_QUEUE,
        "PYTHONUNBUFFERED": "1",
        "GRAPH_AUTHORITY_HOST": graphsim.authority_host,
        "GRAPH_BASE_URL": graphsim.graph_url,
        "GRAPH_CA_BUNDLE": graphsim.ca_path,
    }
    log_path = tmp_path_factory.mktemp("worker") / "worker.log"
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
        "2",
        "--queues",
        settings.CELERY_TASK_DEFAULT_QUEUE,
        "--include",
        "tests.support.worker_tasks",
        "--without-gossip",
        "--without-mingle",
        "--hostname",
        f"test-{os.getpid()}@%h",
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
    yield worker
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()


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
