"""Start the simulator as a child process on a free port (for tests and benchmarks).

The console never uses this: it reaches the simulator over HTTPS only.
"""

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
STARTUP_TIMEOUT = 60.0


@dataclass
class Launched:
    process: subprocess.Popen
    base_url: str  # e.g. https://127.0.0.1:54321
    ca_path: str


def launch(data_dir: Path, *, timeout: float = STARTUP_TIMEOUT, seed: str = "none") -> Launched:
    """Run ``python -m graphsim serve --port 0 --seed SEED`` and wait for its ``ready:`` line.

    Output goes to ``data_dir/graphsim.log``. Raises RuntimeError with that log
    when the simulator exits or does not get ready in time.
    """
    log_path = data_dir / "graphsim.log"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    with open(log_path, "wb") as log:
        process = subprocess.Popen(  # noqa: S603 - a fixed argv: this interpreter, graphsim
            [sys.executable, "-m", "graphsim", "serve", "--host", "127.0.0.1", "--port", "0",
             "--data-dir", str(data_dir), "--seed", seed],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=REPO_ROOT,
            env=env,
        )  # fmt: skip
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = log_path.read_text(errors="replace")
        if "ready:" in text:
            port = next(
                line.split(":", 1)[1].strip()
                for line in text.splitlines()
                if line.startswith("port:")
            )
            return Launched(process, f"https://127.0.0.1:{port}", str(data_dir / "ca.pem"))
        if process.poll() is not None:
            break
        time.sleep(0.05)
    process.kill()
    raise RuntimeError(f"graphsim did not start:\n{log_path.read_text(errors='replace')}")
