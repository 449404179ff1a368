"""Deeply nested JSON sent to the Graph webhook: refused like any other junk, never a 500
(and so never Django's debug page, which would show the settings)."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.test import Client

from presence.webhook import views as webhook
from tests.presence.support_webhook import (
    counter,
    encrypt_like_graph,
    graphish_fixture,  # noqa: F401
    public_key_of,
    token_signer_fixture,  # noqa: F401
)
from tests.support.task_queue import task_queue_fixture  # noqa: F401

USER = "6e0c2a4b-1f3d-4c5e-8a9b-0c1d2e3f4a5b"
NOTIFICATIONS = "/graph/notifications"
LIFECYCLE = "/graph/lifecycle"
IP = "203.0.113.21"
DEEP = 20_000

pytestmark = pytest.mark.usefixtures("rate_limit_window")


def post(data: str | bytes, path: str = NOTIFICATIONS):
    return Client(REMOTE_ADDR=IP).post(path, data=data, content_type="application/json")


def nested(depth: int, opener: str = "[", closer: str = "]", inner: str = "1") -> str:
    return opener * depth + inner + closer * depth


DEEP_BODIES = {
    "lists": "[" * DEEP,
    "objects": '{"a":' * DEEP,
    "closed lists": nested(DEEP),
    "inside value": '{"value": ' + "[" * DEEP,
    "inside a token list": '{"value": [], "validationTokens": ' + nested(DEEP) + "}",
}


@pytest.mark.parametrize("path", [NOTIFICATIONS, LIFECYCLE])
@pytest.mark.parametrize("body", DEEP_BODIES.values(), ids=DEEP_BODIES.keys())
def test_deep_json_is_a_400_counted_as_bad_json(db, task_queue, settings, path, body):
    settings.DEBUG = True
    response = post(body, path)

    assert response.status_code == 400
    assert b"REDIS" not in response.content
    assert counter("rejected_bad_json") == 1
    assert task_queue.messages() == []


def test_deep_json_counts_toward_the_address_limit(db, settings):
    settings.WEBHOOK_REJECT_LIMIT_PER_MINUTE = 2
    assert [post("[" * DEEP).status_code for _ in range(2)] == [400, 400]
    assert post("[" * DEEP).status_code == 429


@pytest.mark.parametrize("depth", [500, 900, 990])
@pytest.mark.parametrize("field", ["lifecycleEvent", "clientState", "subscriptionId"])
def test_nesting_the_parser_accepts_is_refused_item_by_item(graphish, task_queue, depth, field):
    """Just shallow enough to parse: the item is refused, its genuine neighbour is queued."""
    good = json.dumps(graphish.item(USER, "Away", "Away"))
    junk = json.dumps(graphish.item(USER, **{field: "DEEP"}))
    junk = junk.replace('"DEEP"', nested(depth), 1)
    tokens = json.dumps([graphish.signer.token()])
    body = f'{{"value": [{junk}, {good}], "validationTokens": {tokens}}}'

    response = post(body)

    assert response.status_code == 202
    assert [(i["user_id"], i["availability"]) for i in task_queue.notification_items()] == [
        (USER, "Away")
    ]


@pytest.mark.parametrize("depth", [900, DEEP])
def test_a_deeply_nested_resource_inside_the_encryption_is_refused(graphish, task_queue, depth):
    """Whoever holds our public certificate can encrypt anything: the decrypted resource
    is parsed with the same care as the body."""
    item = graphish.item(USER)
    item["encryptedContent"] = encrypt_like_graph(
        public_key_of(graphish.certificate),
        graphish.certificate.certificate_id,
        nested(depth).encode(),
    )

    response = post(json.dumps(graphish.body(item)))

    assert response.status_code == 202
    assert counter("rejected_malformed") == 1
    assert task_queue.messages() == []


@pytest.fixture
def deep_keys_url():
    """An identity platform whose key set is nested past the parser."""
    body = ("[" * DEEP).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_deeply_nested_key_set_is_keys_unavailable(
    graphish, task_queue, monkeypatch, deep_keys_url
):
    """Nothing can be decided without the keys: 503, and Graph delivers again later."""
    # The webhook's own fetch, pointed at that server instead of the tenant's keys URL.
    monkeypatch.setattr(
        webhook.signing_keys, "fetch", lambda _url: webhook._fetch_keys(deep_keys_url)
    )

    response = post(json.dumps(graphish.body(graphish.item(USER))))

    assert response.status_code == 503
    assert counter("deferred_keys_unavailable") == 1
    assert task_queue.messages() == []
