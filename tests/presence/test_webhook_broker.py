"""The webhook's hand-over on a Redis broker: one message per POST, as a worker reads it.

presence/webhook/broker.py writes the task message itself (one LPUSH); these
tests read it back through kombu, as a Celery worker does, from a queue of
their own. The end-to-end tests in test_webhook.py run it on a real worker.
"""

import json
import time
import uuid

import pytest
from amqp.exceptions import ChannelError
from django.conf import settings

from config.celery import app as celery_app
from presence.to_acd import tasks as to_acd_tasks
from presence.webhook import broker as webhook_broker
from tests.presence.support_webhook import (
    counter,
    graphish_fixture,  # noqa: F401
    token_signer_fixture,  # noqa: F401
)

pytestmark = pytest.mark.skipif(not settings.REDIS_URL, reason="needs a Redis broker")

USER = "6e0c2a4b-1f3d-4c5e-8a9b-0c1d2e3f4a5b"
OTHER_USER = "0b7c1d2e-3f4a-4b5c-8d6e-7f8091a2b3c4"
NOTIFICATIONS = "/graph/notifications"


@pytest.fixture
def task_queue(monkeypatch):
    """A queue only this test reads; the webhook's task is routed to it."""
    name = f"ccbridge-test-webhook-{uuid.uuid4().hex[:12]}"
    monkeypatch.setattr(to_acd_tasks.notifications_process, "queue", name, raising=False)
    with celery_app.connection_for_read() as connection:
        simple = connection.SimpleQueue(name, serializer="json")
        yield simple
        simple.queue.delete()
        simple.close()


def waiting(queue) -> int:
    try:
        return queue.qsize()
    except ChannelError:  # Redis drops a list once it is empty
        return 0


def post(client, body):
    return client.post(NOTIFICATIONS, data=json.dumps(body), content_type="application/json")


def test_a_post_is_one_task_message_a_worker_reads(client, graphish, task_queue):
    body = graphish.body(
        graphish.item(USER, "Busy", "InACall", sequence=7),
        graphish.item(OTHER_USER, "Away", "Away", sequence=8),
    )
    assert post(client, body).status_code == 202

    assert waiting(task_queue) == 1
    message = task_queue.get(timeout=5)
    args, kwargs, embed = message.decode()
    message.ack()
    assert message.headers["task"] == to_acd_tasks.notifications_process.name
    assert message.headers["kwargsrepr"] == "{'items': <2 items>}"
    assert message.headers["timelimit"] == [150, 120]
    assert message.headers["ignore_result"] is True
    assert message.properties["correlation_id"] == message.headers["id"]
    assert args == []
    assert [(i["user_id"], i["availability"], i["sequence"]) for i in kwargs["items"]] == [
        (USER, "Busy", "00000000000000000007"),
        (OTHER_USER, "Away", "00000000000000000008"),
    ]
    assert embed == {"callbacks": None, "errbacks": None, "chain": None, "chord": None}
    assert counter("accepted") == 2


def test_an_unreachable_broker_answers_503_in_time_and_counts_nothing_accepted(
    client, graphish, task_queue, monkeypatch
):
    # Nothing listens on the discard port: connections are refused.
    monkeypatch.setattr(celery_app.conf, "broker_url", "redis://127.0.0.1:9/0")
    started = time.monotonic()

    response = post(client, graphish.body(graphish.item(USER)))

    assert response.status_code == 503
    assert response["Retry-After"]
    assert time.monotonic() - started < 3
    assert counter("deferred_broker_unavailable") == 1
    assert counter("accepted") == 0


def test_the_one_push_hand_over_follows_the_task_routes(monkeypatch):
    # A routing table like config/queues.py's, to a queue no worker of the session reads.
    routed_to = f"ccbridge-test-routed-{uuid.uuid4().hex[:12]}"
    task = to_acd_tasks.notifications_process
    monkeypatch.setitem(celery_app.conf, "task_routes", {task.name: {"queue": routed_to}})
    with celery_app.connection_for_read() as connection:
        simple = connection.SimpleQueue(routed_to, serializer="json")
        try:
            task_id = webhook_broker.task_send(task, {"items": []}, kwargsrepr="{}")

            assert task_id is not None, "the webhook fell back to Celery's slower send"
            message = simple.get(timeout=5)
            message.ack()
            assert message.headers["id"] == task_id
        finally:
            simple.queue.delete()
            simple.close()
