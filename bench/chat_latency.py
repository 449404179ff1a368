"""The two expert-conference latency rows, through the running product (bench/harness.py).

Both run on the same 200 conferences, opened through the contact-center API
(an API key with chat:write) with a chat service account signed in and the
chat-message subscription validated by the live gunicorn:

- Invitation accepted in Teams → ``party_joined`` delivered: each expert types
  the positive response through the simulator's control API, 10 a second;
  latency from the message's ``createdDateTime`` in Teams to the bench's ACD
  receiver getting the signed ``party_joined`` (Graph notifies the webhook, the
  worker reads the answer and delivers the event).
- Contact-center message → visible in the Teams chat: one
  ``POST /api/v1/chat-conferences/{id}/messages`` per conference, 10 a second;
  latency from the API's 202 to the simulator logging its answer to the chat
  service account's ``POST /chats/{id}/messages`` (the message is in the chat
  from then on). Every message is then read back from the chat through the
  control API; one that is not there does not count as seen.

One machine, one wall clock.
"""

from __future__ import annotations

import secrets
import time
from urllib.parse import quote, unquote

import requests

from bench.harness import Running
from bench.latency import _epoch, paced, wait_until
from bench.report import Row, percentile
from chat.models import ChatSubscription, Conference
from chat.service_account import chat_service_account_set
from chat.subscription import subscription_ensure
from integrations.apikeys import api_key_create
from presence.subscriptions.system_users import strong_password, system_user_add

CONFERENCES = 200
RATE_PER_SECOND = 10.0
SETTLE_SECONDS = 60.0
TARGET_MS = 250
POSITIVE = "YES"
JOINED = "invitation accepted in Teams → party_joined delivered"
RELAY = "contact-center message → visible in the Teams chat"


class ChatBench:
    """200 conferences with their experts invited, ready for the two rows."""

    def __init__(self, running: Running, *, count: int = CONFERENCES) -> None:
        self.running = running
        self.count = count
        self.conferences: dict[str, str] = {}  # conference id → expert's Teams user id
        self.chats: dict[str, str] = {}  # conference id → Teams chat id
        self.built = False
        self.api = requests.Session()
        self.api.trust_env = False

    def ensure(self) -> ChatBench:
        """Sign in the chat service account, subscribe, open and invite every conference
        (once). Raises RuntimeError when a step does not complete."""
        if self.built:
            return self
        running = self.running
        running.ensure_worker()
        tenant = running.scenario.tenant_id
        nickname = f"bench_chat_{secrets.token_hex(3)}"
        password = strong_password()
        made = running.sim.control(
            "POST",
            f"/tenants/{tenant}/users",
            json={"displayName": "ccbridge chat", "mailNickname": nickname, "password": password},
        )
        user = system_user_add(actor=None, username=made["userPrincipalName"], password=password)
        service = chat_service_account_set(actor=None, system_user=user)
        if not service.ready:
            raise RuntimeError(f"the chat service account cannot chat: {service.status_detail}")
        row = subscription_ensure()
        if row.status != ChatSubscription.Status.ACTIVE:
            raise RuntimeError(f"no chat subscription: {row.last_error}")
        _key, api_key = api_key_create(actor=None, name="bench chat", scopes=["chat:write"])
        self.api.headers["Authorization"] = f"Bearer {api_key}"
        url = f"{running.stack.web_url}/api/v1/chat-conferences"
        for number, agent in enumerate(running.scenario.agents[: self.count]):
            response = self.api.post(
                url,
                json={
                    "customer_chat_id": f"bench-{number}",
                    "agent": "BENCH-DESK",
                    "expert": agent.user_id,
                    "customer_name": "Bench Customer",
                    "insist": True,
                    "invitation_timeout_seconds": 900,
                },
                timeout=30,
            )
            if response.status_code != 202:
                raise RuntimeError(f"conference refused: {response.status_code} {response.text}")
            self.conferences[response.json()["id"]] = agent.user_id

        def invited() -> bool:
            rows = Conference.objects.filter(
                public_id__in=list(self.conferences), invitation_sent_at__isnull=False
            ).values_list("public_id", "teams_chat_id")
            self.chats = {str(public_id): chat_id for public_id, chat_id in rows}
            return len(self.chats) >= len(self.conferences)

        if not wait_until(invited, 180):
            raise RuntimeError(f"{len(self.chats)} of {self.count} invitations reached Teams")
        self.built = True
        return self

    def accepted_to_party_joined(self, rate: float = RATE_PER_SECOND) -> Row:
        """Each expert types YES in Teams; time to the signed party_joined."""
        running, tenant = self.running, self.running.scenario.tenant_id
        running.receiver.taken()
        ids = list(self.chats)
        typed: dict[str, float] = {}

        def send(number: int) -> None:
            conference_id = ids[number]
            message = running.sim.control(
                "POST",
                f"/tenants/{tenant}/chats/{quote(self.chats[conference_id], safe='')}/messages",
                json={"from": self.conferences[conference_id], "text": POSITIVE},
            )
            typed[conference_id] = _epoch(message["createdDateTime"])

        seconds = paced(len(ids), rate, send)
        joined: dict[str, float] = {}
        recorded: dict[str, float] = {}  # when the worker read the answer (occurred_at)

        def arrived() -> bool:
            for arrival in running.receiver.taken():
                payload = arrival.payload
                conference_id = payload.get("conference")
                if payload.get("event") == "party_joined" and conference_id in typed:
                    joined.setdefault(conference_id, arrival.at)
                    recorded.setdefault(conference_id, _epoch(payload["occurred_at"]))
            return len(joined) >= len(ids)

        wait_until(arrived, SETTLE_SECONDS)
        latencies = [joined[c] - typed[c] for c in joined]
        to_record = [recorded[c] - typed[c] for c in joined]
        to_deliver = [joined[c] - recorded[c] for c in joined]
        details = {
            "rate": len(ids) / seconds,
            "conferences": len(ids),
            "typed_to_recorded_p95_ms": _p95_ms(to_record),
            "recorded_to_delivered_p95_ms": _p95_ms(to_deliver),
            "refused_signatures": running.receiver.refused,
        }
        return _row(JOINED, latencies, len(ids), details)

    def message_to_teams(self, rate: float = RATE_PER_SECOND) -> Row:
        """One contact-center message per joined conference; time to Graph storing it."""
        running = self.running
        ids = list(
            Conference.objects.filter(
                public_id__in=list(self.chats), state=Conference.State.JOINED
            ).values_list("public_id", flat=True)
        )
        ids = [str(i) for i in ids]
        by_chat = {self.chats[c]: c for c in ids}
        since = time.time() - 1
        accepted: dict[str, float] = {}
        url = f"{running.stack.web_url}/api/v1/chat-conferences"

        def send(number: int) -> None:
            conference_id = ids[number]
            response = self.api.post(
                f"{url}/{conference_id}/messages",
                json={"author_role": "agent", "author_name": "Bench Agent",
                      "text": f"relay {conference_id}"},
                timeout=30,
            )  # fmt: skip
            if response.status_code != 202:
                raise RuntimeError(f"message refused: {response.status_code} {response.text}")
            accepted[conference_id] = time.time()

        seconds = paced(len(ids), rate, send)
        stored: dict[str, float] = {}

        def arrived() -> bool:
            for call in running.sim.calls_since(since, running.scenario.tenant_id):
                path = unquote(call["path"])
                if call["method"] != "POST" or call["status"] != 201:
                    continue
                if not path.endswith("/messages") or "/chats/" not in path:
                    continue
                chat_id = path.split("/chats/", 1)[1].rsplit("/messages", 1)[0]
                conference_id = by_chat.get(chat_id)
                if conference_id in accepted:
                    stored.setdefault(conference_id, _epoch(call["time"]))
            return len(stored) >= len(accepted)

        wait_until(arrived, SETTLE_SECONDS)
        tenant = running.scenario.tenant_id
        missing = 0
        for conference_id in list(stored):
            chat = quote(self.chats[conference_id], safe="")
            lines = running.sim.control("GET", f"/tenants/{tenant}/chats/{chat}/messages")["value"]
            wanted = f"Bench Agent: relay {conference_id}"
            if not any(wanted in line["body"]["content"] for line in lines):
                del stored[conference_id]
                missing += 1
        latencies = [stored[c] - accepted[c] for c in stored]
        details = {"rate": len(ids) / seconds, "conferences": len(ids), "not_in_chat": missing}
        return _row(RELAY, latencies, len(ids), details)


def _p95_ms(values: list[float]) -> float | None:
    return percentile(values, 0.95) * 1000 if values else None


def _row(measure: str, latencies: list[float], expected: int, extra: dict) -> Row:
    target = f"p95 < {TARGET_MS} ms"
    if not latencies:
        return Row(measure, f"nothing arrived of {expected}", target, False, extra)
    p50, p95, p99 = (percentile(latencies, f) * 1000 for f in (0.5, 0.95, 0.99))
    seen = len(latencies)
    return Row(
        measure,
        f"{seen:,} of {expected:,} at {extra['rate']:.0f}/s: p50 {p50:.0f} ms, p95 {p95:.0f} ms, "
        f"p99 {p99:.0f} ms",
        target,
        p95 < TARGET_MS and seen == expected,
        {"p50_ms": p50, "p95_ms": p95, "p99_ms": p99, "seen": seen, **extra},
    )
