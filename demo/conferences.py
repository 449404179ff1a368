"""The demo contact center's expert conferences, for the Chats screen of `make run`.

Now and then a demo agent conferences a demo Teams expert into a demo customer
chat through the contact-center API (an API key with chat:write), and the
customer says a few things. The expert is played through the simulator's
control API, as if typing in Teams: usually they accept with the account's
positive response, answer a message or two and leave with the leave command;
sometimes they decline, or let the invitation lapse. Every word the expert
types is read from the account's chat system messages, so the demo follows an
edit on the account page. Console data is read through the ORM only to choose
who plays (an agent, an expert) and to learn the words and the chat service
account; the conference itself goes through the API and the simulator.
"""

from __future__ import annotations

import html
import random
import re
import time
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import requests
from django.conf import settings

from accounts.models import Agent, DirectoryUser
from chat.models import Conference
from chat.service_account import chat_account_get
from chat.words import Words
from integrations.services import account_get

CUSTOMERS = ("Ann Customer", "Bruno Diaz", "Chen Wei", "Dana Okafor", "Emil Larsen")
TOPICS = (
    ("Is clause 12 of my contract still valid after the move?", "It is, until December."),
    ("Can I pay the last invoice in two parts?", "Yes, split over two months is fine."),
    ("Does the warranty cover water damage?", "Only with the extended plan, which you have."),
)  # fmt: skip
# How often each ending is played: mostly the whole life of a conference.
SCENES_WEIGHTED = (("accept", 7.0), ("decline", 1.5), ("lapse", 1.5))
# The shortest invitation the API accepts, so a lapsed one shows up soon.
LAPSE_SECONDS = 15
EXPERTS = 8
_TAGS = re.compile(r"<[^>]+>")


class Scene(StrEnum):
    ACCEPT = "accept"
    DECLINE = "decline"
    LAPSE = "lapse"


@dataclass(frozen=True)
class Played:
    """What one demo conference came to, as the API reports it."""

    conference_id: str
    scene: Scene
    state: str
    transcript: list[dict[str, Any]]


class DemoError(Exception):
    """The demo could not play a conference; the message says why."""


def _text(content: str) -> str:
    return html.unescape(_TAGS.sub("", content)).strip()


class DemoConferences:
    """Plays conferences against the console at ``console_url`` with ``api_key`` and the
    simulator tenant ``tenant_id``; ``pause`` is the seconds between two lines."""

    def __init__(self, *, console_url: str, api_key: str, tenant_id: str, pause: float = 4.0):
        self.console_url = console_url.rstrip("/")
        self.tenant_id = tenant_id
        self.pause = pause
        self.number = int(time.time()) % 100_000
        self.http = requests.Session()
        self.http.trust_env = False
        self.http.headers["Authorization"] = f"Bearer {api_key}"
        self.sim = requests.Session()
        self.sim.trust_env = False
        self.sim.verify = settings.GRAPH_CA_BUNDLE or True

    def close(self) -> None:
        """Close the kept-alive connections (to the console and the simulator)."""
        self.http.close()
        self.sim.close()

    # --- the simulator: the expert in Teams -------------------------------------------------

    def _sim(self, method: str, path: str, **kwargs: Any) -> Any:
        url = f"{settings.GRAPH_AUTHORITY_HOST}/_sim/tenants/{self.tenant_id}{path}"
        response = self.sim.request(method, url, timeout=10, **kwargs)
        response.raise_for_status()
        return response.json() if response.content else None

    def _chat_with(self, expert_id: str, service_id: str) -> dict | None:
        for chat in self._sim("GET", "/chats")["value"]:
            if {expert_id, service_id} <= set(chat.get("members") or []):
                return chat
        return None

    def _lines(self, chat_id: str) -> list[tuple[str, str]]:
        """(sender id, text) of a chat's messages, oldest first."""
        return [
            ((m.get("from") or {}).get("user", {}).get("id", ""), _text(m["body"]["content"]))
            for m in self._sim("GET", f"/chats/{chat_id}/messages")["value"]
        ]

    def _types(self, chat_id: str, expert_id: str, text: str) -> None:
        self._sim("POST", f"/chats/{chat_id}/messages", json={"from": expert_id, "text": text})

    # --- the contact center: the API ------------------------------------------------------

    def _api(self, method: str, path: str, body: dict | None = None) -> dict:
        url = f"{self.console_url}/api/v1/chat-conferences{path}"
        response = self.http.request(method, url, json=body, timeout=30)
        if response.status_code >= 300:
            raise DemoError(f"the console refused ({response.status_code}): {response.text[:200]}")
        return response.json() if response.content else {}

    def _until_state(self, conference_id: str, states: set[str], seconds: float) -> dict:
        deadline = time.monotonic() + seconds
        while True:
            detail = self._api("GET", f"/{conference_id}")
            if detail["state"] in states or time.monotonic() > deadline:
                return detail
            time.sleep(0.3)

    # --- one conference ---------------------------------------------------------------------

    def _cast(self, service_id: str) -> tuple[str, DirectoryUser]:
        """A demo agent and an expert who is not in a live conference."""
        agent = (
            Agent.objects.filter(mapping__isnull=False)
            .order_by("?")
            .values_list("external_id", flat=True)
            .first()
            or "ACD-DEMO"
        )
        busy = set(
            Conference.objects.filter(state__in=Conference.LIVE_STATES).values_list(
                "expert_graph_id", flat=True
            )
        )
        experts = [
            u
            for u in DirectoryUser.objects.filter(
                removed_reason="", account_enabled=True, mapping__isnull=True
            ).order_by("display_name")[: EXPERTS * 2]
            if u.graph_id not in busy and u.graph_id != service_id
        ][:EXPERTS]
        if not experts:
            raise DemoError("no Teams user to play the expert yet (the directory is not synced)")
        return agent, random.choice(experts)

    def play(self, scene: Scene | None = None) -> Played:
        """Play one conference to its end; returns what the API says it came to.
        Raises DemoError (and requests' errors) when it cannot."""
        account, service = account_get(), chat_account_get()
        if account is None or service is None or not service.ready:
            raise DemoError("no chat service account is ready")
        words, service_id = Words.of(account), service.system_user.graph_id
        scene = scene or Scene(random.choices(*zip(*SCENES_WEIGHTED, strict=True))[0])
        agent, expert = self._cast(service_id)
        customer = random.choice(CUSTOMERS)
        question, answer = random.choice(TOPICS)
        # The expert is at their desk: an Offline expert would be refused.
        self._sim(
            "POST",
            f"/users/{expert.graph_id}/presence",
            json={"availability": "Available", "activity": "Available"},
        )
        chat = self._chat_with(expert.graph_id, service_id)
        seen = len(self._lines(chat["id"])) if chat else 0
        self.number += 1
        body: dict[str, Any] = {
            "customer_chat_id": f"demo-chat-{self.number}",
            "agent": agent,
            "expert": expert.graph_id,
            "customer_name": customer,
            "context": [{"author": customer, "text": question}],
        }
        if scene == Scene.LAPSE:
            body["invitation_timeout_seconds"] = LAPSE_SECONDS
        conference_id = self._api("POST", "", body)["id"]
        print(f"demo ACD: conferencing {expert.display_name} into {body['customer_chat_id']}")
        chat_id = self._invitation_seen(expert.graph_id, service_id, words, seen)
        if scene == Scene.LAPSE:
            detail = self._until_state(conference_id, {"expired"}, LAPSE_SECONDS + 60)
        elif scene == Scene.DECLINE:
            time.sleep(self.pause)
            self._types(chat_id, expert.graph_id, words.negative)
            detail = self._until_state(conference_id, {"declined"}, 60)
        else:
            detail = self._accept(conference_id, chat_id, expert.graph_id, words, customer, answer)
        return Played(conference_id, scene, detail["state"], detail["transcript"])

    def _invitation_seen(self, expert_id: str, service_id: str, words: Words, seen: int) -> str:
        """The chat's id once the invitation reached the expert in Teams."""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            chat = self._chat_with(expert_id, service_id)
            if chat is not None:
                new = self._lines(chat["id"])[seen:]
                if any(s == service_id and words.invitation in t for s, t in new):
                    return chat["id"]
            time.sleep(0.3)
        raise DemoError("the invitation did not reach the expert in Teams")

    def _accept(
        self,
        conference_id: str,
        chat_id: str,
        expert_id: str,
        words: Words,
        customer: str,
        answer: str,
    ) -> dict:
        time.sleep(self.pause)
        self._types(chat_id, expert_id, words.positive)
        detail = self._until_state(conference_id, {"joined", "failed", "expired"}, 60)
        if detail["state"] != "joined":
            return detail
        said = (
            ("customer", customer, "Thanks for joining!"),
            ("agent", "Demo Agent", "Could you confirm it for the customer?"),
        )
        for role, name, text in said:
            time.sleep(self.pause)
            self._api(
                "POST",
                f"/{conference_id}/messages",
                {"author_role": role, "author_name": name, "text": text},
            )
        time.sleep(self.pause)
        self._types(chat_id, expert_id, answer)
        if random.random() < 0.5:
            time.sleep(self.pause)
            self._types(chat_id, expert_id, "Anything else I can help with?")
        time.sleep(self.pause)
        self._types(chat_id, expert_id, words.leave)
        return self._until_state(conference_id, {"left", "failed"}, 60)
