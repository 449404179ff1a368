"""Start every ccbridge process under one supervisor and stop them all on Ctrl-C.

Used by `make run`: the Graph simulator, the demo contact center, the web
server, two Celery workers and the Celery beat scheduler, each as its own
process with prefixed output. Every port is checked before anything starts.
The demo is optional: when it stops, everything else keeps running.

The demo is the `demo` app's own command, started only when that app is
installed (see CCBRIDGE_DEMO); this module never imports it. An installed app
may add lines to the start-up banner with a `stack_banner()` method on its
AppConfig (the demo lists its logins).
"""

import os
import sys
from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from honcho.printer import Printer

from config.queues import INTERACTIVE, queues_all
from console.supervisor import ListenPort, PortInUse, Supervisor, ports_check

OPTIONAL = frozenset({"demo"})
# The worker of the interactive queue: a person's job never waits behind other work.
JOBS_WORKER_CONCURRENCY = 2


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise CommandError(f"{name} must be a whole number, not {raw!r}.") from None


def stack_processes(
    *,
    python: str,
    host: str,
    port: int,
    sim_port: int | None,
    webhook_port: int,
    concurrency: int,
) -> dict[str, str]:
    """{process name: command line} of `make run`; no simulator or demo when sim_port is None,
    and no demo when the demo app is not installed.

    Each line starts with `exec`, so the shell that runs it becomes the program and a
    stop signal reaches the program itself."""
    var = Path(settings.VAR_DIR)
    base = settings.CELERY_TASK_DEFAULT_QUEUE
    processes = {}
    if sim_port is not None:
        processes["graphsim"] = (
            f"exec {python} -m graphsim serve --host 127.0.0.1 --port {sim_port} "
            f"--data-dir {var / 'graphsim'} --seed demo"
        )
        if apps.is_installed("demo"):
            processes["demo"] = (
                f"exec {python} manage.py demo --console-url http://127.0.0.1:{port} "
                f"--webhook-port {webhook_port}"
            )
    processes["web"] = f"exec {python} manage.py runserver {host}:{port} --noreload"
    # One consumer per queue: on the filesystem broker two workers taking the same
    # message file race (a copy across filesystems), so the interactive queue is the
    # jobs worker's alone. A worker takes from its queues in turn, not in order.
    others = [name for name in queues_all(base) if name != settings.TASK_QUEUES[INTERACTIVE]]
    processes["worker"] = (
        f"exec {python} -m celery -A config worker --loglevel INFO --concurrency {concurrency} "
        f"--queues {','.join(others)} --hostname worker@%h"
    )
    processes["jobs"] = (
        f"exec {python} -m celery -A config worker --loglevel INFO "
        f"--concurrency {JOBS_WORKER_CONCURRENCY} "
        f"--queues {settings.TASK_QUEUES[INTERACTIVE]} --hostname jobs@%h"
    )
    processes["beat"] = (
        f"exec {python} -m celery -A config beat --loglevel INFO "
        f"--schedule {settings.CELERY_BEAT_SCHEDULE_FILENAME}"
    )
    return processes


class Command(BaseCommand):
    help = "Run the simulator, demo, web server, workers and scheduler together (make run)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--host", default=os.environ.get("CCBRIDGE_HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=_env_int("CCBRIDGE_PORT", 8000))
        parser.add_argument("--sim-port", type=int, default=_env_int("GRAPHSIM_PORT", 8443))
        parser.add_argument("--webhook-port", type=int, default=_env_int("DEMO_WEBHOOK_PORT", 8190))
        parser.add_argument(
            "--concurrency",
            type=int,
            default=_env_int("WORKER_CONCURRENCY", 4),
            help="processes of the worker that serves every queue",
        )
        parser.add_argument("--no-sim", action="store_true", help="do not start the simulator")

    def handle(self, *args, **options) -> None:
        has_simulator = (Path(settings.BASE_DIR) / "graphsim" / "__main__.py").exists()
        with_simulator = has_simulator and not options["no_sim"]
        processes = stack_processes(
            python=sys.executable,
            host=options["host"],
            port=options["port"],
            sim_port=options["sim_port"] if with_simulator else None,
            webhook_port=options["webhook_port"],
            concurrency=options["concurrency"],
        )
        ports = [ListenPort(options["host"], options["port"], "CCBRIDGE_PORT")]
        if "graphsim" in processes:
            ports.append(ListenPort("127.0.0.1", options["sim_port"], "GRAPHSIM_PORT"))
        if "demo" in processes:
            ports.append(ListenPort("127.0.0.1", options["webhook_port"], "DEMO_WEBHOOK_PORT"))
        try:
            ports_check(ports)
        except PortInUse as exc:
            raise CommandError(str(exc)) from None

        url = f"http://{options['host']}:{options['port']}/"
        self.stdout.write(self.style.SUCCESS(f"\nccbridge console: {url}"))
        for config in apps.get_app_configs():
            if hasattr(config, "stack_banner"):
                for line in config.stack_banner():
                    self.stdout.write(line)
        self.stdout.write("Press Ctrl-C to stop everything.\n")

        manager = Supervisor(Printer(sys.stdout), optional=OPTIONAL)
        # The settings of web, workers and demo derive the simulator's and their own
        # addresses from these, so --port and --sim-port reach them too.
        env = {
            **os.environ,
            "PYTHONUNBUFFERED": "1",
            "CCBRIDGE_PORT": str(options["port"]),
            "GRAPHSIM_PORT": str(options["sim_port"]),
            "DEMO_WEBHOOK_PORT": str(options["webhook_port"]),
        }
        for name, command in processes.items():
            manager.add_process(name, command, env=env, cwd=str(settings.BASE_DIR))
        manager.loop()
        sys.exit(manager.returncode)
