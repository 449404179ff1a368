"""Command line: ``python -m graphsim serve --host H --port P --data-dir DIR --seed demo|none``."""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
from datetime import datetime, timedelta
from pathlib import Path
from types import FrameType

from graphsim.app import build_server
from graphsim.core.errors import iso, parse_iso, utcnow
from graphsim.core.persist import FOLDER, StateError
from graphsim.core.seed import build_app, build_tenant
from graphsim.core.sim import Sim
from graphsim.core.state import App, Tenant

DEMO_SEED = "ccbridge-demo-v1"
DEMO_DOMAIN = "contoso.onmicrosoft.com"
DEMO_USERS = 1300
DEMO_SERVICE_PASSWORD = "Ccbridge-Demo-2025!"
CCBRIDGE_APPLICATION_PERMISSIONS = [
    "User.Read.All", "GroupMember.Read.All", "Group.Read.All", "User.ReadWrite.All",
    "Application.Read.All", "Presence.Read.All", "Presence.ReadWrite.All", "Chat.Read.All",
    "Chat.ReadWrite.All", "Mail.ReadWrite", "Mail.Send",
]  # fmt: skip
CCBRIDGE_DELEGATED_PERMISSIONS = [
    "Presence.Read.All", "ChatMessage.Send", "Chat.ReadWrite", "User.Read",
]  # fmt: skip


def seed_demo(sim: Sim, data_dir: Path) -> dict[str, str]:
    """Create the deterministic demo tenant "Contoso" and its ccbridge app, or
    keep the saved one (with the users clients created in it).

    Side effects: adds the tenant to ``sim`` when it was not saved, and writes
    ``demo-tenant.json``. The ids and the secret come from a fixed seed, so
    they survive restarts; the secret's expiry (60 days from first start) is
    kept in the file.
    """
    path = data_dir / "demo-tenant.json"
    expires = utcnow() + timedelta(days=60)
    if path.exists():
        previous = parse_iso(json.loads(path.read_text()).get("secret_expires_at"))
        if previous and previous > utcnow():
            expires = previous
    tenant = build_tenant("Contoso", DEMO_DOMAIN, DEMO_USERS, DEMO_SEED)
    app, secret = build_app(
        tenant,
        display_name="ccbridge",
        permissions=CCBRIDGE_APPLICATION_PERMISSIONS,
        delegated=CCBRIDGE_DELEGATED_PERMISSIONS,
        secret_expires_at=expires,
        seed=DEMO_SEED,
    )
    # A service account for delegated presence subscriptions (MFA off).
    service = tenant.users[tenant.sorted_ids()[0]]
    service.password = DEMO_SERVICE_PASSWORD
    service.props["accountEnabled"] = True
    saved = sim.store.tenant(tenant.id)
    if saved is None:
        sim.store.add_tenant(tenant)
    else:
        # The generated tenant only names the app and the service account; the
        # saved one holds their current state.
        tenant = saved
        with tenant.lock:
            app, secret = _saved_demo_app(tenant, app, secret, expires)
    expires_at = next(s.end for s in app.secrets if s.value == secret)
    info = {
        "tenant_id": tenant.id,
        "domain": tenant.domain,
        "name": tenant.name,
        "client_id": app.client_id,
        "object_id": app.object_id,
        "client_secret": secret,
        "secret_expires_at": iso(expires_at),
        "service_user": service.upn,
        "service_password": DEMO_SERVICE_PASSWORD,
    }
    path.write_text(json.dumps(info, indent=2) + "\n")
    os.chmod(path, 0o600)
    return info


def _saved_demo_app(
    tenant: Tenant, generated: App, secret: str, expires: datetime
) -> tuple[App, str]:
    """The demo app as saved, with the secret to publish: the demo secret while
    the app still has it, else its newest one (rotated through the control API).
    An app deleted, or left without secrets, gets the generated one back; a
    published secret that has expired lasts until ``expires`` again, as it did
    when every start generated the tenant afresh."""
    app = tenant.apps.get(generated.client_id)
    if app is None or not app.secrets:
        tenant.apps[generated.client_id] = generated
        tenant.changed()
        return generated, secret
    published = next(
        (s for s in app.secrets if s.value == secret), max(app.secrets, key=lambda s: s.start)
    )
    if published.end <= utcnow():
        published.end = expires
        tenant.changed()
    return app, published.value


def serve(args: argparse.Namespace) -> int:
    """Run the server until SIGTERM/SIGINT. Prints the URLs and a ready line."""
    data_dir = Path(args.data_dir).resolve()
    try:
        server, sim = build_server(args.host, args.port, data_dir)
    except StateError as exc:
        print(f"graphsim: {exc}", file=sys.stderr, flush=True)
        return 2
    if sim.loaded_tenants:
        print(f"kept tenants: {sim.loaded_tenants} from {data_dir / FOLDER}")
    port = server.server_port
    shown_host = "127.0.0.1" if args.host in ("0.0.0.0", "") else args.host  # noqa: S104
    base = f"https://{shown_host}:{port}"
    if args.seed == "demo":
        info = seed_demo(sim, data_dir)
        print(f"demo tenant: {info['tenant_id']} ({info['domain']})")
        print(
            f"demo app: client id {info['client_id']}, details in {data_dir / 'demo-tenant.json'}"
        )
    sim.start()
    print(f"port: {port}")
    print(f"authority host: {base}")
    print(f"graph base url: {base}/v1.0")
    print(f"ca certificate: {data_dir / 'ca.pem'}")
    print(f"ready: graphsim listening on {base}", flush=True)

    def stop(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        sim.stop()
        server.server_close()
    return 0


def main(argv: list[str] | None = None) -> int:
    """Parse arguments and run the chosen command."""
    parser = argparse.ArgumentParser(prog="graphsim", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("serve", help="run the HTTPS simulator")
    run.add_argument("--host", default="127.0.0.1")
    run.add_argument("--port", type=int, default=8443, help="0 picks a free port")
    run.add_argument("--data-dir", default="var/graphsim")
    run.add_argument("--seed", choices=["demo", "none"], default="none")
    run.add_argument("--verbose", action="store_true", help="log every request")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, stream=sys.stderr)
    if args.verbose:
        logging.getLogger("werkzeug").setLevel(logging.INFO)
    return serve(args)
