"""Teams chats (docs/graph.md, "Chat"): one chat per pair, delegated-only sending,
newest-first paging, pasted images, and chat message subscriptions with encrypted
rich notifications and lifecycle events."""

from __future__ import annotations

import time
from dataclasses import dataclass
from urllib.parse import quote

import pytest

from tests.graphsim.conftest import EncryptionKey
from tests.graphsim.support import Graph, Webhook, in_minutes, user_token
from tests.graphsim.test_graph_auth import assert_graph_error
from tests.graphsim.test_notifications import decrypt
from tests.graphsim.test_persistence import _app_graph, _wait_until_saved, running
from tests.plugins.graphsim_server import GraphSimServer, SimTenant

PASSWORD = "Chat-Passw0rd!"
CHAT_SCOPE = (
    "https://graph.microsoft.com/ChatMessage.Send https://graph.microsoft.com/Chat.ReadWrite"
)
IMPORT_ONLY = (
    "Message POST is allowed in application-only context only for import purposes. Refer to "
    "https://docs.microsoft.com/microsoftteams/platform/graph-api/import-messages/"
    "import-external-messages-to-teams for more details."
)
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(64))


@dataclass
class Person:
    id: str
    graph: Graph


def _person(graphsim: GraphSimServer, tenant: SimTenant, nickname: str) -> Person:
    user = graphsim.control.create_user(
        tenant.tenant_id, displayName=nickname.title(), mailNickname=nickname, password=PASSWORD
    )
    tokens = user_token(graphsim, tenant, user["userPrincipalName"], PASSWORD, scope=CHAT_SCOPE)
    return Person(user["id"], Graph(graphsim, tokens["access_token"]))


@pytest.fixture
def service(graphsim, sim_tenant) -> Person:
    """The chat service account, signed in with the chat scopes."""
    return _person(graphsim, sim_tenant, "chatservice")


@pytest.fixture
def expert(graphsim, sim_tenant) -> Person:
    return _person(graphsim, sim_tenant, "expert")


def one_on_one(a: str, b: str) -> dict:
    return {
        "chatType": "oneOnOne",
        "members": [
            {
                "@odata.type": "#microsoft.graph.aadUserConversationMember",
                "roles": ["owner"],
                "user@odata.bind": f"https://graph.microsoft.com/v1.0/users('{user}')",
            }
            for user in (a, b)
        ],
    }


def messages_path(chat_id: str) -> str:
    return f"/chats/{quote(chat_id, safe='')}/messages"


@pytest.fixture
def chat_id(service: Person, expert: Person) -> str:
    response = service.graph.post("/chats", one_on_one(service.id, expert.id))
    assert response.status_code == 201, response.text
    return response.json()["id"]


def subscription(webhook: Webhook, resource: str, key: EncryptionKey | None, **overrides) -> dict:
    body = {
        "changeType": "created,updated,deleted",
        "notificationUrl": webhook.url,
        "lifecycleNotificationUrl": webhook.lifecycle_url,
        "resource": resource,
        "expirationDateTime": in_minutes(55),
        "clientState": "chat-state",
        "includeResourceData": key is not None,
    }
    if key is not None:
        body["encryptionCertificate"] = key.certificate_b64
        body["encryptionCertificateId"] = key.certificate_id
    body.update(overrides)
    return body


def test_the_same_pair_always_gets_the_same_chat(
    sim_tenant, service: Person, expert: Person
) -> None:
    first = service.graph.post("/chats", one_on_one(service.id, expert.id))
    assert first.status_code == 201, first.text
    chat = first.json()
    assert chat["chatType"] == "oneOnOne"
    assert chat["tenantId"] == sim_tenant.tenant_id
    assert chat["createdDateTime"] and chat["lastUpdatedDateTime"] and chat["webUrl"]
    again = expert.graph.post("/chats", one_on_one(expert.id, service.id))
    assert again.status_code == 201
    assert again.json()["id"] == chat["id"]


def test_a_one_on_one_chat_has_exactly_two_members(sim_tenant, service: Person) -> None:
    others = [u["id"] for u in sim_tenant.users[:2]]
    body = one_on_one(service.id, others[0])
    body["members"].append(one_on_one(others[1], others[1])["members"][0])
    assert_graph_error(service.graph.post("/chats", body), 400, "BadRequest")


def test_a_signed_in_user_only_creates_chats_they_are_in(sim_tenant, service: Person) -> None:
    a, b = (u["id"] for u in sim_tenant.users[:2])
    assert_graph_error(service.graph.post("/chats", one_on_one(a, b)), 403, "Forbidden")


def test_send_as_the_signed_in_user(service: Person, expert: Person, chat_id: str) -> None:
    response = service.graph.post(
        messages_path(chat_id),
        {"body": {"contentType": "text", "content": "You are invited (YES/NO)?"}},
    )
    assert response.status_code == 201, response.text
    message = response.json()
    assert message["messageType"] == "message"
    assert message["chatId"] == chat_id
    assert message["from"]["user"]["id"] == service.id
    assert message["from"]["user"]["userIdentityType"] == "aadUser"
    assert message["body"] == {"contentType": "text", "content": "You are invited (YES/NO)?"}
    read = expert.graph.get(f"{messages_path(chat_id)}/{message['id']}")
    assert read.status_code == 200
    assert read.json()["body"]["content"] == "You are invited (YES/NO)?"


def test_an_application_token_cannot_send(graph: Graph, chat_id: str) -> None:
    """docs/graph.md "Chat": app-only message POST is for imports only (401)."""
    response = graph.post(messages_path(chat_id), {"body": {"content": "hi"}})
    error = assert_graph_error(response, 401, "Unauthorized")
    assert error["message"] == IMPORT_ONLY


def test_a_user_outside_the_chat_is_refused(graphsim, sim_tenant, chat_id: str) -> None:
    stranger = _person(graphsim, sim_tenant, "stranger")
    response = stranger.graph.post(messages_path(chat_id), {"body": {"content": "hi"}})
    error = assert_graph_error(response, 403, "Forbidden")
    assert error["innerError"]["message"].startswith("AclCheckFailed-")
    assert_graph_error(stranger.graph.get(messages_path(chat_id)), 403, "Forbidden")


def test_messages_page_newest_first_at_most_fifty(
    graphsim, sim_tenant, graph: Graph, expert: Person, chat_id: str
) -> None:
    for n in range(55):
        graphsim.control.type_chat_message(sim_tenant.tenant_id, chat_id, expert.id, f"m{n}")
    first = graph.get(messages_path(chat_id), params={"$top": "50"})
    assert first.status_code == 200, first.text
    page = first.json()
    assert [m["body"]["content"] for m in page["value"][:2]] == ["<p>m54</p>", "<p>m53</p>"]
    assert len(page["value"]) == 50
    rest = graph.get(page["@odata.nextLink"]).json()
    oldest = [f"<p>m{n}</p>" for n in (4, 3, 2, 1, 0)]
    assert [m["body"]["content"] for m in rest["value"]] == oldest
    assert "@odata.nextLink" not in rest
    too_many = graph.get(messages_path(chat_id), params={"$top": "51"})
    error = assert_graph_error(too_many, 400, "BadRequest")
    assert "The limit of '50' for Top query has been exceeded" in error["message"]


def test_a_pasted_image_is_served_behind_graph(
    graphsim, sim_tenant, graph: Graph, expert: Person, chat_id: str
) -> None:
    typed = graphsim.control.type_chat_message(
        sim_tenant.tenant_id, chat_id, expert.id, "look", image=PNG
    )
    assert typed["body"]["contentType"] == "html"
    src = typed["body"]["content"].split('src="')[1].split('"')[0]
    assert src.startswith(f"{graphsim.graph_url}/chats/") and src.endswith("/$value")
    response = graph.get(src)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "image/png"
    assert response.content == PNG
    assert Graph(graphsim, None).get(src).status_code == 401
    listed = graphsim.control.chat_messages(sim_tenant.tenant_id, chat_id)
    assert listed[-1]["hostedContents"][0]["size"] == len(PNG)
    assert graphsim.control.chats(sim_tenant.tenant_id)[0]["members"]


def test_a_chat_subscription_delivers_the_message_encrypted(
    graphsim, sim_tenant, service: Person, expert: Person, chat_id, webhook, encryption_key
) -> None:
    resource = f"/chats/{chat_id}/messages"
    response = service.graph.post("/subscriptions", subscription(webhook, resource, encryption_key))
    assert response.status_code == 201, response.text
    sub = response.json()
    typed = graphsim.control.type_chat_message(sim_tenant.tenant_id, chat_id, expert.id, "YES")
    body = webhook.wait_for(1)[0]
    item = body["value"][0]
    assert item["subscriptionId"] == sub["id"]
    assert item["changeType"] == "created"
    assert item["clientState"] == "chat-state"
    assert item["resource"] == f"chats('{chat_id}')/messages('{typed['id']}')"
    assert item["resourceData"] == {
        "id": typed["id"],
        "@odata.type": "#Microsoft.Graph.chatMessage",
        "@odata.id": item["resource"],
    }
    assert body["validationTokens"]
    message = decrypt(item, encryption_key.private_key)
    assert message["body"] == {"contentType": "html", "content": "<p>YES</p>"}
    assert message["from"]["user"]["id"] == expert.id
    assert message["chatId"] == chat_id


def test_get_all_messages_subscriptions_hear_every_chat_of_their_scope(
    graphsim, sim_tenant, graph: Graph, service, expert, chat_id, webhook, encryption_key
) -> None:
    tenant_wide = graph.post(
        "/subscriptions", subscription(webhook, "/chats/getAllMessages", encryption_key)
    )
    assert tenant_wide.status_code == 201, tenant_wide.text
    per_user = graph.post(
        "/subscriptions",
        subscription(webhook, f"/users/{expert.id}/chats/getAllMessages", encryption_key),
    )
    assert per_user.status_code == 201, per_user.text
    outsider = sim_tenant.users[0]["id"]
    unrelated = graph.post(
        "/subscriptions",
        subscription(webhook, f"/users/{outsider}/chats/getAllMessages", encryption_key),
    )
    assert unrelated.status_code == 201
    graphsim.control.type_chat_message(sim_tenant.tenant_id, chat_id, expert.id, "NO")
    items = webhook.wait_for_items(2)
    time.sleep(0.3)  # a third (wrong) item would have arrived by now
    heard = sorted(i["subscriptionId"] for i in webhook.wait_for_items(2))
    assert heard == sorted([tenant_wide.json()["id"], per_user.json()["id"]])
    assert all(decrypt(i, encryption_key.private_key)["body"]["content"] == "<p>NO</p>"
               for i in items)  # fmt: skip


def test_get_all_messages_is_application_only(service: Person, webhook) -> None:
    response = service.graph.post(
        "/subscriptions", subscription(webhook, "/chats/getAllMessages", None)
    )
    assert_graph_error(response, 403, "ExtensionError")


def test_one_subscription_per_resource_per_app(graph: Graph, chat_id, webhook) -> None:
    body = subscription(webhook, f"/chats/{chat_id}/messages", None)
    assert graph.post("/subscriptions", body).status_code == 201
    again = graph.post("/subscriptions", body)
    error = assert_graph_error(again, 409, "ExtensionError")
    assert "already exists" in error["message"]


def test_lifecycle_events_reach_a_chat_subscription(
    graphsim, graph: Graph, chat_id, webhook
) -> None:
    sub = graph.post("/subscriptions", subscription(webhook, f"/chats/{chat_id}/messages", None))
    sub_id = sub.json()["id"]
    for event in ("reauthorizationRequired", "missed", "subscriptionRemoved"):
        graphsim.control.lifecycle(sub_id, event)
    # Events queued together may share one POST, so count items, not POSTs.
    deadline = time.monotonic() + 10
    events: list[dict] = []
    while len(events) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
        events = [i for b in webhook.wait_for(1, path="/lifecycle") for i in b["value"]]
    assert sorted(e["lifecycleEvent"] for e in events) == [
        "missed",
        "reauthorizationRequired",
        "subscriptionRemoved",
    ]
    assert {e["subscriptionId"] for e in events} == {sub_id}
    assert graph.get(f"/subscriptions/{sub_id}").status_code == 404


def test_lost_notifications_are_never_delivered_and_a_missed_event_still_is(
    graphsim, sim_tenant, graph: Graph, expert: Person, chat_id, webhook
) -> None:
    sub = graph.post("/subscriptions", subscription(webhook, f"/chats/{chat_id}/messages", None))
    sub_id = sub.json()["id"]
    assert graphsim.control.lose_notifications(sub_id, 2) == {"losing": 2}
    for text in ("one", "two", "three"):
        graphsim.control.type_chat_message(sim_tenant.tenant_id, chat_id, expert.id, text)
    graphsim.control.lifecycle(sub_id, "missed")

    delivered = webhook.wait_for_items(1)
    events = [i for b in webhook.wait_for(1, path="/lifecycle") for i in b["value"]]
    time.sleep(0.3)  # a lost item would have arrived by now
    assert len(webhook.wait_for_items(1)) == 1
    third = graphsim.control.chat_messages(sim_tenant.tenant_id, chat_id)[-1]
    assert delivered[0]["resourceData"]["id"] == third["id"]
    assert [e["lifecycleEvent"] for e in events] == ["missed"]
    lost = [
        d for d in graphsim.control.deliveries() if d["url"] == webhook.url and d["status"] == 0
    ]
    assert len(lost) == 2


def test_beyond_an_hour_needs_a_lifecycle_url_and_three_days_is_the_most(
    graph: Graph, chat_id, webhook
) -> None:
    resource = f"/chats/{chat_id}/messages"
    without = subscription(
        webhook, resource, None, expirationDateTime=in_minutes(120), lifecycleNotificationUrl=None
    )
    error = assert_graph_error(graph.post("/subscriptions", without), 400, "ExtensionError")
    assert "lifecycleNotificationUrl is a required property" in error["message"]
    too_long = subscription(webhook, resource, None, expirationDateTime=in_minutes(4330))
    assert_graph_error(graph.post("/subscriptions", too_long), 400, "ExtensionError")
    three_days = subscription(webhook, resource, None, expirationDateTime=in_minutes(4300))
    created = graph.post("/subscriptions", three_days)
    assert created.status_code == 201, created.text
    renewed = graph.patch(
        f"/subscriptions/{created.json()['id']}", {"expirationDateTime": in_minutes(4000)}
    )
    assert renewed.status_code == 200, renewed.text


@pytest.mark.simulator  # starts and kills simulator processes of its own
def test_chats_and_their_messages_survive_a_crash(tmp_path) -> None:
    with running(tmp_path, kill=True) as server:
        tenant = server.control.create_tenant(domain="chats.example", users=3, seed=5)
        tid = tenant["tenant_id"]
        app = server.control.create_app(tid, permissions=["Chat.Create", "Chat.Read.All"])
        graph = _app_graph(server, tid, app["client_id"], app["client_secret"])
        a, b = (u["id"] for u in server.control.list_users(tid)[:2])
        chat = graph.post("/chats", one_on_one(a, b)).json()
        typed = server.control.type_chat_message(tid, chat["id"], a, "kept", image=PNG)
        _wait_until_saved(server)

    with running(tmp_path) as server:
        graph = _app_graph(server, tid, app["client_id"], app["client_secret"])
        assert graph.post("/chats", one_on_one(b, a)).json()["id"] == chat["id"]
        listed = graph.get(messages_path(chat["id"])).json()["value"]
        assert [m["id"] for m in listed] == [typed["id"]]
        src = listed[0]["body"]["content"].split('src="')[1].split('"')[0]
        path = src.split("/v1.0", 1)[1]  # the new process listens on another port
        assert graph.get(path).content == PNG
