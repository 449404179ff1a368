"""``python -m bench.soak`` (``make soak``): both directions at once, then check every agent.

The running product (gunicorn, a Celery worker, the simulator, the bench's ACD
receiver; bench/harness.py) with N mapped agents on the bench's two-way rule.
Half the agents are driven from the contact center: agent events through
POST /api/v1/agent-events. The other half from Teams: presence changes
through the simulator's control API. When the sending stops and the work has
drained, every agent must show what the rule says: the ACD-driven ones in
Teams (read from the simulator), the Teams-driven ones at the ACD (the newest
delivery the receiver got). Prints the counts and the rates achieved next to
the asked ones, and exits 1 on any loss or mismatch, or when a rate fell short
(2 when the run itself could not be set up).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

# A bound, not a wait: the run goes on as soon as the work has drained. The worker applies
# what the senders queued at the rate the simulator answers Graph calls, which on a busy
# 2-core box is well below the sending rate, so draining can take minutes.
SETTLE_SECONDS = 600.0


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.soak", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--agents", type=int, default=5000, help="mapped agents (default 5000)")
    parser.add_argument("--seconds", type=float, default=60.0, help="sending time (default 60)")
    parser.add_argument(
        "--event-rate",
        type=float,
        default=100.0,
        help="agent events per second through the API (default 100)",
    )
    parser.add_argument(
        "--change-rate",
        type=float,
        default=50.0,
        help="Teams presence changes per second (default 50)",
    )
    parser.add_argument(
        "--batch", type=int, default=10, help="agent events per API request (default 10)"
    )
    parser.add_argument(
        "--settle",
        type=float,
        default=SETTLE_SECONDS,
        help="seconds to wait at most for the work to drain (default 600)",
    )
    parser.add_argument("--seed", type=int, default=7, help="random seed of the traffic")
    return parser.parse_args(argv)  # fmt: skip


@contextmanager
def _environment():
    """A throwaway var dir and database, the simulator; Django set up on them."""
    work = Path(tempfile.mkdtemp(prefix="ccbridge-soak-"))
    os.environ["CCBRIDGE_VAR_DIR"] = str(work / "var")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    (work / "graphsim").mkdir()
    from bench import simulator

    sim = simulator.start(work / "graphsim")
    # Before django.setup(): settings read these once.
    os.environ["GRAPH_AUTHORITY_HOST"] = sim.base_url
    os.environ["GRAPH_BASE_URL"] = sim.graph_url
    os.environ["GRAPH_CA_BUNDLE"] = sim.ca_path
    try:
        import django

        django.setup()
        from django.conf import settings
        from django.db import connection
        from django.test.utils import setup_test_environment

        settings.DEBUG = False
        setup_test_environment()
        old_name = connection.creation.create_test_db(
            verbosity=0, autoclobber=True, serialize=False
        )
        try:
            yield sim, work
        finally:
            connection.close()
            connection.creation.destroy_test_db(old_name, verbosity=0)
    finally:
        sim.stop()
        shutil.rmtree(work, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    with _environment() as (sim, work):
        from bench import soak_run
        from bench.harness import Harness

        log_dir = work / "logs"
        log_dir.mkdir()
        harness = Harness(sim, log_dir, args.agents)
        try:
            started = time.monotonic()
            try:
                running = harness.ensure()
                running.ensure_worker()
            except Exception as exc:  # any setup failure means there is no run to report
                print(f"soak: could not set up: {exc}", file=sys.stderr)
                return 2
            print(f"soak: {args.agents:,} agents set up in {time.monotonic() - started:.0f} s",
                  file=sys.stderr, flush=True)  # fmt: skip
            outcome = soak_run.run(running, args)
        finally:
            harness.close()
    print(outcome.report())
    return 0 if outcome.clean else 1


if __name__ == "__main__":
    sys.exit(main())
