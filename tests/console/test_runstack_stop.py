"""Stopping `make run`: SIGTERM to its process group, or its supervisor killed outright,
stops every process it started, within 10 s, with no SIGKILL needed and none left over.

The stack here is the real one (web, both Celery workers with their pools, beat), on the
test database and a filesystem broker of its own; only the simulator and demo are left
out, as `runstack --no-sim` does.
"""

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings

pytestmark = [pytest.mark.worker, pytest.mark.serial]

STOP_WITHIN_SECONDS = 10


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _parents() -> dict[int, int]:
    parents = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name may hold spaces and parentheses: fields follow the last ")".
        fields = stat.rsplit(")", 1)[1].split()
        parents[int(entry.name)] = int(fields[1])
    return parents


def _descendants(root: int) -> set[int]:
    parents = _parents()
    found, frontier = set(), {root}
    while frontier:
        children = {pid for pid, parent in parents.items() if parent in frontier}
        frontier = children - found
        found |= children
    return found


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


class Stack:
    def __init__(self, process: subprocess.Popen, log: Path):
        self.process = process
        self.log = log

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@pytest.fixture
def stack(test_database_url, transactional_db, tmp_path):
    if not sys.platform.startswith("linux"):
        pytest.skip("reads the process tree from /proc")
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": test_database_url,
        "CCBRIDGE_VAR_DIR": str(tmp_path / "var"),
        "CELERY_QUEUE": f"stop-{uuid.uuid4().hex[:8]}",
        "DJANGO_DEBUG": "true",
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("REDIS_URL", None)  # the embedded broker: nothing shared with other tests
    log = tmp_path / "stack.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "manage.py",
                "runstack",
                "--no-sim",
                "--port",
                str(port),
                "--concurrency",
                "2",
            ],
            cwd=settings.BASE_DIR,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, as a service manager gives it
        )
    stack = Stack(process, log)
    deadline = time.monotonic() + 120
    while not all(f"{name}@" in stack.output() and "ready." in stack.output()
                  for name in ("worker", "jobs")):  # fmt: skip
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"the stack did not start:\n{stack.output()}")
        time.sleep(0.5)
    try:
        yield stack
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        for pid in _descendants(process.pid):
            if _running(pid):
                os.kill(pid, signal.SIGKILL)


def _wait_gone(pids: set[int], seconds: float) -> set[int]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        left = {pid for pid in pids if _running(pid)}
        if not left:
            return set()
        time.sleep(0.1)
    return {pid for pid in pids if _running(pid)}


def test_sigterm_to_the_process_group_stops_everything_without_a_kill(stack):
    started = _descendants(stack.process.pid)
    assert len(started) >= 6  # web, two workers and their pools, beat, and their watchers

    os.killpg(stack.process.pid, signal.SIGTERM)
    stack.process.wait(timeout=STOP_WITHIN_SECONDS)

    assert "SIGKILL" not in stack.output()
    assert _wait_gone(started, 1) == set()


def test_a_supervisor_killed_outright_takes_every_process_with_it(stack):
    started = _descendants(stack.process.pid)

    os.kill(stack.process.pid, signal.SIGKILL)

    assert _wait_gone(started, STOP_WITHIN_SECONDS) == set()
