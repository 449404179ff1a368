"""The demo side of `make run`: waits for the simulator, then sets up the demo data.

Runs as one of the `make run` processes. Once the Graph simulator has written
its demo tenant file, it creates the Teams integration account for that tenant
the demo contact center's 800 agents and its default presence rule (each only
when missing), then drives the demo contact center (console/demo_driver.py)
and stays up so `make run` keeps every process together.
"""

import json
import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand

from console.demo import (
    DEMO_UNIT_NAME,
    demo_agents_ensure,
    demo_rule_ensure,
    demo_system_users_ensure,
)
from console.demo_driver import DemoDriver
from graph.errors import GraphError
from integrations.models import LicensingMode
from integrations.services import account_create, account_get

WAIT_SECONDS = 60


def demo_tenant_file() -> Path:
    return Path(settings.VAR_DIR) / "graphsim" / "demo-tenant.json"


class Command(BaseCommand):
    help = "Set up the demo Teams integration account for the simulator's demo tenant."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--once", action="store_true", help="set up, then exit")
        parser.add_argument("--console-url", default="http://127.0.0.1:8000")
        parser.add_argument("--webhook-port", type=int, default=8190)
        parser.add_argument("--rate", type=float, default=2.0, help="agent events per second")

    def handle(self, *args, **options) -> None:
        path = demo_tenant_file()
        deadline = time.monotonic() + WAIT_SECONDS
        while not path.exists() and time.monotonic() < deadline:
            time.sleep(0.5)
        if not path.exists():
            self.stderr.write(f"no simulator demo tenant at {path}; skipping the demo")
            return self._idle()
        tenant = json.loads(path.read_text())
        self._ensure_account(tenant)
        self._ensure_agents()
        if options["once"]:
            return None
        driver = DemoDriver(
            console_url=options["console_url"],
            webhook_port=options["webhook_port"],
            rate=options["rate"],
        )
        driver.run(tenant["tenant_id"])
        return self._idle()

    def _idle(self) -> None:
        # `make run` stops every process when one exits: stay up until Ctrl-C.
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
            created = demo_system_users_ensure()
        except Exception as exc:  # the demo goes on without live subscriptions
            self.stderr.write(f"demo: could not create system users: {exc}")
        else:
            if created:
                self.stdout.write(f"demo: created {created} system users for subscriptions")

    def _ensure_account(self, tenant: dict) -> None:
        if account_get() is not None:
            self.stdout.write("demo: the Teams integration account already exists")
            return
        account_create(
            actor=None,
            fields={
                "name": f"{tenant.get('name', 'Contoso')} (simulator)",
                "object_id": tenant["object_id"],
                "tenant": tenant["tenant_id"],
                "client_id": tenant["client_id"],
                "licensing_mode": LicensingMode.PRODUCTION,
                "phone_types": ["business", "mobile", "fax"],
            },
            client_secret=tenant["client_secret"],
        )
        self.stdout.write("demo: created the Teams integration account for the simulator tenant")
