"""Helpers for the graphsim tests: a tiny Graph client, token helpers and a
local webhook receiver (plain HTTP on loopback, which graphsim accepts)."""

from __future__ import annotations

import base64
import json
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests

from tests.plugins.graphsim_server import GraphSimServer, SimTenant, trusted_session

GRAPH_SCOPE = "https://graph.microsoft.com/.default"


class PortPinnedSession(requests.Session):
    """A CA-trusting session that puts the simulator's port back on URLs MSAL
    built without one.

    MSAL's username/password flow does user realm discovery at
    ``https://{hostname}/common/userrealm/…``: it drops the authority's port, so
    against a simulator on a non-443 port that request would go to port 443.
    """

    def __init__(self, graphsim: GraphSimServer) -> None:
        super().__init__()
        self.trust_env = False
        self.verify = graphsim.ca_path
        self._netloc = urlsplit(graphsim.base_url).netloc
        self._host = urlsplit(graphsim.base_url).hostname

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        parts = urlsplit(str(url))
        if parts.netloc == self._host:
            url = parts._replace(netloc=self._netloc).geturl()
        return super().request(method, url, *args, **kwargs)


def token_response(
    graphsim: GraphSimServer, tenant: str, form: dict[str, str]
) -> requests.Response:
    """POST the token endpoint directly (no MSAL)."""
    return trusted_session(graphsim.ca_path).post(
        f"{graphsim.authority_host}/{tenant}/oauth2/v2.0/token", data=form, timeout=30
    )


def app_token(graphsim: GraphSimServer, tenant: SimTenant) -> str:
    """An app-only Graph token for the tenant's ccbridge app."""
    response = token_response(
        graphsim,
        tenant.tenant_id,
        {
            "grant_type": "client_credentials",
            "client_id": tenant.client_id,
            "client_secret": tenant.client_secret,
            "scope": GRAPH_SCOPE,
        },
    )
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def user_token(
    graphsim: GraphSimServer,
    tenant: SimTenant,
    username: str,
    password: str,
    scope: str = "https://graph.microsoft.com/Presence.Read.All offline_access",
) -> dict[str, Any]:
    """The password grant's JSON for a user (asserts success)."""
    response = token_response(
        graphsim,
        tenant.tenant_id,
        {
            "grant_type": "password",
            "client_id": tenant.client_id,
            "client_secret": tenant.client_secret,
            "username": username,
            "password": password,
            "scope": scope,
        },
    )
    assert response.status_code == 200, response.text
    return response.json()


def jwt_claims(token: str) -> dict[str, Any]:
    """The (unverified) claims of a JWT."""
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


class Graph:
    """A minimal Graph client: relative paths, one bearer token."""

    def __init__(self, graphsim: GraphSimServer, token: str | None) -> None:
        self.base = graphsim.graph_url
        self.session = trusted_session(graphsim.ca_path)
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"

    def url(self, path: str) -> str:
        return path if path.startswith("https://") else f"{self.base}{path}"

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.session.get(self.url(path), timeout=60, **kwargs)

    def post(self, path: str, body: Any = None, **kwargs: Any) -> requests.Response:
        return self.session.post(self.url(path), json=body, timeout=60, **kwargs)

    def patch(self, path: str, body: Any = None) -> requests.Response:
        return self.session.patch(self.url(path), json=body, timeout=60)

    def delete(self, path: str) -> requests.Response:
        return self.session.delete(self.url(path), timeout=60)


def in_minutes(minutes: float) -> str:
    """An ISO time ``minutes`` from now (UTC)."""
    return (datetime.now(UTC) + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")


class Webhook:
    """A local receiver that answers validation and records every POST.

    ``mode``: "echo" (correct handshake), "wrong" (answers another token),
    "error" (500 to everything), "slow" (sleeps ``delay`` seconds).
    """

    def __init__(self) -> None:
        self.mode = "echo"
        self.delay = 0.0
        self.validations: list[str] = []
        self.posts: list[dict[str, Any]] = []
        self.event = threading.Condition()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_POST(self) -> None:
                query = parse_qs(urlsplit(self.path).query)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                if outer.mode == "slow":
                    threading.Event().wait(outer.delay)
                if outer.mode == "error":
                    self.send_response(500)
                    self.end_headers()
                    return
                if "validationToken" in query:
                    token = query["validationToken"][0]
                    outer.validations.append(token)
                    answer = token if outer.mode != "wrong" else "not-the-token"
                    data = answer.encode()
                    self.send_response(200)
                    self.send_header("Content-Type", "text/plain")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    return
                with outer.event:
                    outer.posts.append({"path": urlsplit(self.path).path, "body": json.loads(raw)})
                    outer.event.notify_all()
                self.send_response(202)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/notify"
        self.lifecycle_url = f"http://127.0.0.1:{self.server.server_port}/lifecycle"

    def wait_for(self, count: int, path: str = "/notify", timeout: float = 10.0) -> list[dict]:
        """Wait until ``count`` POST bodies arrived on ``path``; returns them."""
        with self.event:
            self.event.wait_for(
                lambda: len([p for p in self.posts if p["path"] == path]) >= count, timeout
            )
            return [p["body"] for p in self.posts if p["path"] == path]

    def wait_for_items(self, count: int, timeout: float = 10.0) -> list[dict]:
        """Wait until ``count`` notification items arrived (over any number of POSTs)."""

        def items() -> list[dict]:
            return [i for p in self.posts if p["path"] == "/notify" for i in p["body"]["value"]]

        with self.event:
            self.event.wait_for(lambda: len(items()) >= count, timeout)
            return items()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
