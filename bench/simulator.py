"""The Graph simulator as a subprocess on loopback, and a small client for its control API.

The bench meets graphsim over HTTPS only, like the console does.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests

from graphsim.launch import launch

REPO_ROOT = Path(__file__).resolve().parent.parent
STARTUP_TIMEOUT = 60.0
APPLICATION_PERMISSIONS = ["User.Read.All", "Presence.Read.All", "Presence.ReadWrite.All"]


def trusted_session(ca_path: str) -> requests.Session:
    """A session that trusts only the simulator's CA (trust_env off: no proxy, no CA override)."""
    session = requests.Session()
    session.trust_env = False
    session.verify = ca_path
    return session


@dataclass
class Simulator:
    base_url: str
    ca_path: str
    process: subprocess.Popen = field(repr=False)
    session: requests.Session = field(repr=False)

    @property
    def graph_url(self) -> str:
        return f"{self.base_url}/v1.0"

    def control(self, method: str, path: str, **kwargs: Any) -> Any:
        """Call ``/_sim{path}``; returns the JSON body. Raises for an HTTP error."""
        response = self.session.request(
            method, f"{self.base_url}/_sim{path}", timeout=300, **kwargs
        )
        response.raise_for_status()
        return response.json() if response.content else None

    def tenant_with_app(self, *, domain: str, users: int, seed: int) -> dict[str, str]:
        """A tenant of ``users`` generated users and an app consented to what the sync needs."""
        tenant = self.control(
            "POST",
            "/tenants",
            json={"name": domain, "domain": domain, "users": users, "seed": seed},
        )
        expires = (datetime.now(UTC) + timedelta(days=60)).isoformat()
        app = self.control(
            "POST",
            f"/tenants/{tenant['tenant_id']}/apps",
            json={
                "permissions": APPLICATION_PERMISSIONS,
                "delegated": [],
                "secret_expires_at": expires,
                "display_name": "ccbridge-bench",
            },
        )
        return {
            "tenant_id": tenant["tenant_id"],
            "client_id": app["client_id"],
            "client_secret": app["client_secret"],
            "object_id": app["object_id"],
        }

    def calls_since(self, since: float, tenant: str) -> list[dict[str, Any]]:
        """Graph calls the simulator logged for ``tenant`` since the epoch time ``since``."""
        when = datetime.fromtimestamp(since, UTC).isoformat()
        return self.control("GET", "/calls", params={"since": when, "tenant": tenant})["value"]

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


def start(data_dir: Path) -> Simulator:
    """Start the simulator on a free port and wait until it is ready."""
    launched = launch(data_dir, timeout=STARTUP_TIMEOUT)
    session = trusted_session(launched.ca_path)
    return Simulator(launched.base_url, launched.ca_path, launched.process, session)
