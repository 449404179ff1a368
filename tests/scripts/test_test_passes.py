"""`make test-fast` runs no serial pass, so a serial test that is not also a worker,
browser or simulator test must stop the run rather than go unrun."""

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _collect(tmp_path, source):
    (tmp_path / "test_sample.py").write_text(source)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "tests.plugins.passes", "--collect-only", "-q"],
        cwd=tmp_path,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_serial_test_that_needs_no_worker_stops_the_run(tmp_path):
    run = _collect(
        tmp_path,
        "import pytest\n\n@pytest.mark.serial\ndef test_times_something():\n    pass\n",
    )
    assert run.returncode != 0
    assert "test_sample.py::test_times_something" in run.stdout + run.stderr
    assert "make test-fast" in run.stdout + run.stderr


def test_a_serial_worker_test_is_collected(tmp_path):
    run = _collect(
        tmp_path,
        "import pytest\n\n@pytest.mark.serial\n@pytest.mark.worker\n"
        "def test_kills_a_worker():\n    pass\n",
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "1 test collected" in run.stdout
