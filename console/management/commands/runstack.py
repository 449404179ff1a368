"""Start every ccbridge process under one supervisor and stop them all on Ctrl-C.

Used by `make run`: the Graph simulator, the web server, a Celery worker and
the Celery beat scheduler, each as its own process with prefixed output.
"""

import os
import sys
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand
from honcho.manager import Manager
from honcho.printer import Printer

from console.management.commands.seed_demo import DEMO_LOGINS


class Command(BaseCommand):
    help = "Run the simulator, web server, worker and scheduler together (make run)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--host", default=os.environ.get("CCBRIDGE_HOST", "127.0.0.1"))
        parser.add_argument(
            "--port", type=int, default=int(os.environ.get("CCBRIDGE_PORT", "8000"))
        )
        parser.add_argument(
            "--sim-port", type=int, default=int(os.environ.get("GRAPHSIM_PORT", "8443"))
        )
        parser.add_argument("--no-sim", action="store_true", help="do not start the simulator")

    def handle(self, *args, **options) -> None:
        python = sys.executable
        var = Path(settings.VAR_DIR)
        processes = {}
        has_simulator = (Path(settings.BASE_DIR) / "graphsim" / "__main__.py").exists()
        if has_simulator and not options["no_sim"]:
            processes["graphsim"] = (
                f"{python} -m graphsim serve --host 127.0.0.1 --port {options['sim_port']} "
                f"--data-dir {var / 'graphsim'} --seed demo"
            )
            processes["demo"] = (
                f"{python} manage.py demo --console-url http://127.0.0.1:{options['port']}"
            )
        processes["web"] = (
            f"{python} manage.py runserver {options['host']}:{options['port']} --noreload"
        )
        processes["worker"] = (
            f"{python} -m celery -A config worker --loglevel INFO --concurrency 2 "
            f"--queues {settings.CELERY_TASK_DEFAULT_QUEUE} --hostname worker@%h"
        )
        processes["beat"] = (
            f"{python} -m celery -A config beat --loglevel INFO "
            f"--schedule {settings.CELERY_BEAT_SCHEDULE_FILENAME}"
        )

        url = f"http://{options['host']}:{options['port']}/"
        self.stdout.write(self.style.SUCCESS(f"\nccbridge console: {url}"))
        for username, password, role, *_ in DEMO_LOGINS:
            self.stdout.write(f"  {role:<14} {username} / {password}")
        self.stdout.write("Press Ctrl-C to stop everything.\n")

        manager = Manager(Printer(sys.stdout))
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        for name, command in processes.items():
            manager.add_process(name, command, env=env, cwd=str(settings.BASE_DIR))
        manager.loop()
        sys.exit(manager.returncode)
