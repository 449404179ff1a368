"""``python -m bench`` (``make bench``): run every measure, print the table, write results.json.

The run is self-contained: a throwaway database (PostgreSQL when DATABASE_URL
is set, else SQLite) and a temporary CCBRIDGE_VAR_DIR, a graphsim subprocess
on loopback, and everything removed afterwards. Each measure is bounded by an
alarm, so a stuck one becomes a "not measured" row instead of a hung run.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path

MEASURE_TIMEOUT_SECONDS = 300

# Rows that run the product itself: gunicorn, a Celery worker, the ACD receiver.
END_TO_END = {"webhook", "acd", "teams", "chat_joined", "chat_relay"}
E2E_AGENTS = 2000  # 1,000 for each latency row
ISSUE_ROWS = {
    "full": ("full directory sync, 50,000 users", "≤ 1.5x floor; exactly 51 page requests; "
             "peak RSS ≤ 200 MB"),
    "incremental": ("incremental sync after 100 changes", "≤ 2 requests, < 1 s"),
    "automap": ("auto-map 50,000 agents x 50,000 users", "< 2 s; query count independent of size"),
    "webhook": ("webhook ingest", "≥ 2,000 notifications/s; p99 < 100 ms; ≥ 0.5x floor"),
    "acd": ("ACD event → setPresence seen by the simulator", "p95 < 250 ms"),
    "teams": ("Teams change → ACD webhook delivered", "p95 < 250 ms"),
    "subscriptions": ("subscriptions for N mapped agents (800, 5,000, 20,000)",
                      "exactly ceil(N/650); renewals per cycle = that number"),
    "mapping": ("mapping page with 50,000 agents", "p95 < 150 ms; ≤ 10 queries per page"),
    "chat_joined": ("invitation accepted in Teams → party_joined delivered",
                    "p95 < 250 ms (200 conferences at 10/s)"),
    "chat_relay": ("contact-center message → visible in the Teams chat",
                   "p95 < 250 ms (200 conferences at 10/s)"),
}  # fmt: skip


class MeasureTimeout(Exception):
    pass


def _on_alarm(signum, frame):
    raise MeasureTimeout(f"stopped after {MEASURE_TIMEOUT_SECONDS} s")


def _bounded(key: str, fn: Callable[[], list]) -> list:
    """Run one measure under an alarm; a failure becomes a "not measured" row."""
    from bench.report import Row

    print(f"bench: {key} …", file=sys.stderr, flush=True)
    started = time.monotonic()
    signal.alarm(MEASURE_TIMEOUT_SECONDS)
    try:
        return fn()
    except Exception as exc:  # one measure failing must not lose the others' figures
        traceback.print_exc()
        measure, target = ISSUE_ROWS[key]
        return [Row.not_measured(measure, target, f"{type(exc).__name__}: {exc}")]
    finally:
        signal.alarm(0)
        print(f"bench: {key} done in {time.monotonic() - started:.0f} s", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--only",
        default="",
        help=f"comma-separated measures to run (of {', '.join(ISSUE_ROWS)}); "
        "results.json is only written for a full run, or with --merge",
    )
    parser.add_argument(
        "--merge",
        action="store_true",
        help="with --only: put the measured rows into results.json in place of the same "
        "measures' rows, each with the machine it ran on",
    )
    args = parser.parse_args(argv)
    only = {key for key in args.only.split(",") if key}
    unknown = only - set(ISSUE_ROWS)
    if unknown:
        parser.error(f"unknown measure(s): {', '.join(sorted(unknown))}")

    work = Path(tempfile.mkdtemp(prefix="ccbridge-bench-"))
    os.environ["CCBRIDGE_VAR_DIR"] = str(work / "var")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    sim_dir = work / "graphsim"
    sim_dir.mkdir()

    from bench import simulator

    sim = simulator.start(sim_dir)
    # Before django.setup(): settings read these once.
    os.environ["GRAPH_AUTHORITY_HOST"] = sim.base_url
    os.environ["GRAPH_BASE_URL"] = sim.graph_url
    os.environ["GRAPH_CA_BUNDLE"] = sim.ca_path
    try:
        return _run(sim, only or set(ISSUE_ROWS), merge=args.merge)
    finally:
        sim.stop()
        shutil.rmtree(work, ignore_errors=True)


def _run(sim, wanted: set[str], *, merge: bool = False) -> int:
    import django

    django.setup()
    from django.conf import settings
    from django.db import connection
    from django.test.utils import setup_test_environment

    from bench import automap, directory_sync, mapping_page, report, subscriptions
    from bench.report import Row

    # No query log kept between measures: it would count against the sync's memory.
    settings.DEBUG = False
    setup_test_environment()
    vendor = connection.vendor
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    signal.signal(signal.SIGALRM, _on_alarm)
    rows: list[Row] = []
    try:
        # The sync runs first so the peak RSS it reports is the sync's, not the auto-map's.
        if wanted & {"full", "incremental"}:
            sync_rows = _bounded("full", lambda: directory_sync.measure(sim))
            if len(sync_rows) == 1:
                sync_rows.append(
                    Row.not_measured(*ISSUE_ROWS["incremental"], "the full sync failed")
                )
            rows += sync_rows
            _clear_directory()
        unit_box = []

        def automap_measure():
            measured, unit = automap.measure()
            unit_box.append(unit)
            return measured

        # Before the auto-map data: the subscriptions cover every mapped agent there is.
        if wanted & END_TO_END:
            rows += _end_to_end(sim, wanted)
        if wanted & {"automap", "mapping"}:
            rows += _bounded("automap", automap_measure)
        if "subscriptions" in wanted:
            rows += _bounded("subscriptions", subscriptions.measure)
        if "mapping" in wanted:
            if unit_box:
                rows += _bounded("mapping", lambda: mapping_page.measure(unit_box[0]))
            else:
                rows.append(Row.not_measured(*ISSUE_ROWS["mapping"], "auto-map data failed"))
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)

    database = "PostgreSQL" if vendor == "postgresql" else "SQLite"
    broker = "Redis" if settings.REDIS_URL else "filesystem broker"
    info = report.machine(database, broker)
    print(report.table(rows))
    print(f"\nMachine: {report.machine_line(info)}")
    if wanted == set(ISSUE_ROWS):
        report.write(rows, info)
        print(f"Written to {report.RESULTS_PATH}")
    elif merge:
        report.merge(rows, info)
        print(f"Merged into {report.RESULTS_PATH}")
    return 0


def _end_to_end(sim, wanted: set[str]) -> list:
    """The webhook and latency rows, on one harness (the webhook row before any worker runs)."""
    from bench import latency, webhook_ingest
    from bench.harness import Harness

    log_dir = Path(os.environ["CCBRIDGE_VAR_DIR"]) / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    harness = Harness(sim, log_dir, E2E_AGENTS)
    rows: list = []
    try:
        if "webhook" in wanted:

            def ingest():
                running = harness.ensure()
                tenant = running.scenario
                return webhook_ingest.measure(sim, running.stack, tenant.tenant_id,
                                              tenant.client_id)  # fmt: skip

            rows += _bounded("webhook", ingest)
        if "acd" in wanted:
            rows += _bounded("acd", lambda: [latency.to_teams(harness.ensure())])
        if "teams" in wanted:
            rows += _bounded("teams", lambda: [latency.to_acd(harness.ensure())])
        if wanted & {"chat_joined", "chat_relay"}:
            rows += _chat_rows(harness, wanted)
    finally:
        harness.close()
    return rows


def _chat_rows(harness, wanted: set[str]) -> list:
    """The two conference rows on one set of 200 conferences (the relay row needs the
    experts to have joined: without the first row they join unmeasured)."""
    from bench.chat_latency import ChatBench

    box: list[ChatBench] = []

    def conferences() -> ChatBench:
        if not box:
            box.append(ChatBench(harness.ensure()))
        return box[0].ensure()

    joined = _bounded("chat_joined", lambda: [conferences().accepted_to_party_joined()])
    rows = joined if "chat_joined" in wanted else []
    if "chat_relay" in wanted:
        rows += _bounded("chat_relay", lambda: [conferences().message_to_teams()])
    return rows


def _clear_directory() -> None:
    from accounts.models import DirectorySyncState, DirectoryUser

    DirectoryUser.objects.all().delete()
    DirectorySyncState.objects.all().delete()


if __name__ == "__main__":
    sys.exit(main())
