"""The demo contact center of `make run`: it sends agent events and receives the ACD webhook.

It plays the ACD's part against the console's public surfaces only: agent
state events go through the JSON API with an API key, Teams-side changes and
conference events come back on a signed webhook it serves itself, now and then a
demo Teams user "acts in Teams" through the simulator's control API, and every
``chat_every`` seconds a demo expert is conferenced into a customer chat
(demo/conferences.py). It never runs against a real tenant: it refuses unless
the authority host is on loopback.
"""

import hashlib
import hmac
import json
import logging
import random
import secrets
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse

import requests
from django.conf import settings
from django.db import connection
from django.utils import timezone

from accounts.models import Agent
from demo.conferences import DemoConferences, DemoError
from integrations.apikeys import api_key_create
from integrations.models import ApiKey
from presence.sync_models import AcdEndpoint

logger = logging.getLogger(__name__)

KEY_NAME = "Demo contact center"
# Where the next state goes from each state, with weights: a plausible day on the phones.
NEXT_STATES = {
    "available": [("working", 6), ("unavailable", 1), ("logged_out", 0.2)],
    "working": [("wrap_up", 5), ("available", 1)],
    "wrap_up": [("available", 5), ("unavailable", 0.5)],
    "unavailable": [("available", 4), ("logged_out", 0.3)],
    "logged_out": [("available", 1)],
}
REASONS = ("break", "lunch", "training", "meeting")
TEAMS_ACTIVITY = [("Busy", "InAMeeting"), ("Away", "Away"), ("DoNotDisturb", "DoNotDisturb"),
                  ("Available", "Available")]  # fmt: skip


class WebhookReceiver(BaseHTTPRequestHandler):
    """Receives the console's signed ACD webhook and checks the signature, as an ACD would."""

    secret = b""

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        stamp = self.headers.get("X-Ccbridge-Timestamp", "")
        signature = self.headers.get("X-Ccbridge-Signature", "")
        expected = (
            "sha256="
            + hmac.new(self.secret, f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
        )
        if not hmac.compare_digest(expected, signature):
            self.send_response(401)
            self.end_headers()
            logger.warning("demo ACD: rejected a webhook with a bad signature")
            return
        event = json.loads(body or b"{}")
        if event.get("conference"):
            print(f"demo ACD: chat {event.get('customer_chat_id')}: {event.get('event')} "
                  f"{event.get('text') or ''}".rstrip())  # fmt: skip
        else:
            agent = (event.get("agent") or {}).get("external_id")
            print(f"demo ACD: {agent} → {event.get('acd_state')} "
                  f"({event.get('reason_code') or '-'})")  # fmt: skip
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args) -> None:  # quiet: one line per event is printed above
        pass


class DemoDriver:
    def __init__(
        self, *, console_url: str, webhook_port: int, rate: float, chat_every: float = 0.0
    ):
        self.console_url = console_url.rstrip("/")
        self.webhook_port = webhook_port
        self.interval = 1.0 / max(rate, 0.1)
        self.chat_every = chat_every
        self.next_conference = 0.0
        self.conference_thread: threading.Thread | None = None
        self.http = requests.Session()
        self.http.trust_env = False
        self.states: dict[str, str] = {}
        self.sequence = int(time.time() * 1000)

    def setup(self) -> None:
        """A fresh API key for the driver, and the ACD webhook pointed at the driver.

        Listens first: the console's ACD webhook is pointed at the port only once it is ours.
        """
        server = ThreadingHTTPServer(("127.0.0.1", self.webhook_port), WebhookReceiver)
        ApiKey.objects.filter(name=KEY_NAME, revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )
        _key, self.api_key = api_key_create(
            actor=None, name=KEY_NAME, scopes=[ApiKey.Scope.EVENTS_WRITE, ApiKey.Scope.CHAT_WRITE]
        )
        secret = secrets.token_urlsafe(32)
        WebhookReceiver.secret = secret.encode()
        endpoint, _ = AcdEndpoint.objects.get_or_create(singleton=True)
        endpoint.url = f"http://127.0.0.1:{self.webhook_port}/acd-webhook"
        endpoint.secret = secret
        endpoint.enabled = True
        endpoint.save()
        threading.Thread(target=server.serve_forever, daemon=True).start()

    def _mapped_agents(self) -> list[tuple[str, str]]:
        """(external id, Teams user id) of every mapped agent with Teams integration on."""
        return list(
            Agent.objects.filter(mapping__isnull=False, teams_enabled=True).values_list(
                "external_id", "mapping__directory_user__graph_id"
            )
        )

    def _next_state(self, external_id: str) -> tuple[str, str, str]:
        current = self.states.get(external_id, "logged_out")
        choices, weights = zip(*NEXT_STATES[current], strict=True)
        state = random.choices(choices, weights)[0]
        self.states[external_id] = state
        reason = random.choice(REASONS) if state == "unavailable" else ""
        interaction = "customer" if state == "working" else "none"
        if state == "working" and random.random() < 0.15:
            interaction = "internal"
        return state, reason, interaction

    def send_event(self, external_id: str) -> None:
        state, reason, interaction = self._next_state(external_id)
        self.sequence += 1
        event = {
            "agent": external_id,
            "state": state,
            "interaction": interaction,
            "occurred_at": datetime.now(UTC).isoformat(),
            "sequence": self.sequence,
        }
        if reason:
            event["reason_code"] = reason
        response = self.http.post(
            f"{self.console_url}/api/v1/agent-events",
            json={"events": [event]},
            headers={"Authorization": f"Bearer {self.api_key}"},
            timeout=10,
        )
        if response.status_code >= 300:
            print(f"demo ACD: the console refused an event ({response.status_code}): "
                  f"{response.text[:200]}")  # fmt: skip

    def act_in_teams(self, tenant_id: str, user_id: str) -> None:
        """A demo Teams user changes presence, as if they joined a meeting or stepped away."""
        availability, activity = random.choice(TEAMS_ACTIVITY)
        self.http.post(
            f"{settings.GRAPH_AUTHORITY_HOST}/_sim/tenants/{tenant_id}/users/{user_id}/presence",
            json={"availability": availability, "activity": activity, "preferred": False},
            verify=settings.GRAPH_CA_BUNDLE,
            timeout=10,
        )

    def conference_now_and_then(self, tenant_id: str) -> None:
        """Start the next demo conference in the background when it is due and the last
        one is over (a conference takes a minute of its own pauses)."""
        if self.chat_every <= 0 or time.monotonic() < self.next_conference:
            return
        if self.conference_thread is not None and self.conference_thread.is_alive():
            return
        self.next_conference = time.monotonic() + self.chat_every
        conferences = DemoConferences(
            console_url=self.console_url, api_key=self.api_key, tenant_id=tenant_id
        )
        self.conference_thread = threading.Thread(
            target=_play_one, args=(conferences,), name="demo-conference", daemon=True
        )
        self.conference_thread.start()

    def run(self, tenant_id: str) -> None:
        if urlparse(settings.GRAPH_AUTHORITY_HOST).hostname not in ("127.0.0.1", "localhost"):
            print("demo ACD: the Graph authority is not the local simulator; not driving")
            return
        self.setup()
        print(f"demo ACD: sending agent events to {self.console_url}, webhook on port "
              f"{self.webhook_port}")  # fmt: skip
        ticks = 0
        while True:
            self.conference_now_and_then(tenant_id)
            agents = self._mapped_agents()
            if not agents:
                if ticks % 60 == 0:
                    print("demo ACD: waiting for mapped agents (auto-map the demo unit)")
                ticks += 1
                time.sleep(1)
                continue
            external_id, _teams_user = random.choice(agents)
            try:
                self.send_event(external_id)
                if ticks % 5 == 0:
                    _agent, teams_user = random.choice(agents)
                    self.act_in_teams(tenant_id, teams_user)
            except requests.RequestException as exc:
                print(f"demo ACD: {type(exc).__name__}: {exc}")
            ticks += 1
            time.sleep(self.interval)


def _play_one(conferences: DemoConferences) -> None:
    try:
        played = conferences.play()
        print(f"demo ACD: conference {played.conference_id} ({played.scene}): {played.state}")
    except (DemoError, requests.RequestException) as exc:
        print(f"demo ACD: no conference this time: {exc}")
    finally:
        conferences.close()
        connection.close()  # this thread's own database connection
