"""The demo side of `make run`: waits for the simulator, then sets up the demo data.

Runs as one of the `make run` processes. Once the Graph simulator has written
its demo tenant file, it creates the Teams integration account for that tenant
the demo contact center's 800 agents, its default presence rule and enough
system users that sign in (each only when missing; system users the tenant
lost are put back) and the chat service account, then drives the demo contact
center (demo/driver.py: agent events, and now and then an expert conference) and
stays up so `make run` keeps every process together.
"""

import json
import os
import time
from pathlib import Path

import requests
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from console.supervisor import ListenPort, PortInUse, ports_check
from demo.driver import DemoDriver
from demo.seed import (
    DEMO_UNIT_NAME,
    demo_account_ensure,
    demo_agents_ensure,
    demo_chat_account_ensure,
    demo_rule_ensure,
    demo_system_users_ensure,
)
from graph.errors import GraphError
from integrations.services import account_get
from integrations.tasks import secret_expiry_read_enqueue

WAIT_SECONDS = 60


def demo_tenant_file() -> Path:
    return Path(settings.VAR_DIR) / "graphsim" / "demo-tenant.json"


class Command(BaseCommand):
    help = "Set up the demo Teams integration account for the simulator's demo tenant."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--once", action="store_true", help="set up, then exit")
        parser.add_argument("--console-url", default="http://127.0.0.1:8000")
        parser.add_argument(
            "--webhook-port",
            type=int,
            default=int(os.environ.get("DEMO_WEBHOOK_PORT", "").strip() or 8190),
            help="where the demo contact center receives ACD deliveries (DEMO_WEBHOOK_PORT)",
        )
        parser.add_argument("--rate", type=float, default=2.0, help="agent events per second")
        parser.add_argument(
            "--chat-every",
            type=float,
            default=float(os.environ.get("DEMO_CHAT_EVERY_SECONDS", "").strip() or 60),
            help="seconds between two demo expert conferences, 0 for none "
            "(DEMO_CHAT_EVERY_SECONDS)",
        )

    def handle(self, *args, **options) -> None:
        if not options["once"]:
            webhook = ListenPort("127.0.0.1", options["webhook_port"], "DEMO_WEBHOOK_PORT")
            try:
                ports_check([webhook])
            except PortInUse as exc:
                raise CommandError(str(exc)) from None
        path = demo_tenant_file()
        deadline = time.monotonic() + WAIT_SECONDS
        while not path.exists() and time.monotonic() < deadline:
            time.sleep(0.5)
        if not path.exists():
            self.stderr.write(f"no simulator demo tenant at {path}; skipping the demo")
            return self._idle()
        tenant = json.loads(path.read_text())
        if not self._simulator_answers(deadline=time.monotonic() + WAIT_SECONDS):
            # The file outlives the simulator: checking sign-ins now would mark every
            # system user as failing.
            self.stderr.write(f"the simulator at {settings.GRAPH_AUTHORITY_HOST} does not answer")
            return self._idle()
        self._ensure_account(tenant)
        self._ensure_agents()
        if options["once"]:
            return None
        driver = DemoDriver(
            console_url=options["console_url"],
            webhook_port=options["webhook_port"],
            rate=options["rate"],
            chat_every=options["chat_every"],
        )
        driver.run(tenant["tenant_id"])
        return self._idle()

    def _simulator_answers(self, *, deadline: float) -> bool:
        url = f"{settings.GRAPH_AUTHORITY_HOST}/_sim/health"
        session = requests.Session()
        session.trust_env = False
        while True:
            try:
                if session.get(url, verify=settings.GRAPH_CA_BUNDLE or True, timeout=5).ok:
                    return True
            except requests.RequestException:
                pass
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.5)

    def _idle(self) -> None:
        # Nothing left to do; staying up keeps `make run`'s process list as it started.
        while True:
            time.sleep(3600)

    def _ensure_agents(self) -> None:
        try:
            created = demo_agents_ensure(account_get())
        except GraphError as exc:
            self.stderr.write(f"demo: could not read the demo tenant's users: {exc.message}")
            return
        if created:
            self.stdout.write(f"demo: created {created} agents in {DEMO_UNIT_NAME}")
        if demo_rule_ensure():
            self.stdout.write("demo: created the default presence rule for every demo team")
        try:
            restored, created = demo_system_users_ensure()
        except Exception as exc:  # the demo goes on without live subscriptions
            self.stderr.write(f"demo: could not create system users: {exc}")
        else:
            if restored:
                self.stdout.write(
                    f"demo: put back {restored} system users the simulator no longer knew"
                )
            if created:
                self.stdout.write(f"demo: created {created} system users for subscriptions")
        try:
            marked = demo_chat_account_ensure()
        except Exception as exc:  # the demo goes on without conferences
            self.stderr.write(f"demo: could not set up the chat service account: {exc}")
        else:
            if marked is not None:
                ready = "" if marked.ready else f" (not ready: {marked.status_detail})"
                self.stdout.write(
                    f"demo: marked {marked.system_user.username} as the chat service account"
                    + ready
                )

    def _ensure_account(self, tenant: dict) -> None:
        account = demo_account_ensure(tenant)
        if account is None:
            self.stdout.write("demo: the Teams integration account already exists")
            return
        # The expiry bar must not wait for someone to press Test connection.
        secret_expiry_read_enqueue(account=account)
        self.stdout.write("demo: created the Teams integration account for the simulator tenant")
