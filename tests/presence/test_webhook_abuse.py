"""The Graph webhook under junk that costs the sender nothing: a POST of thousands of
items with made-up subscription ids must cost us a bounded amount of work, count
toward the sender's refusal limit and leave one log line, not thousands."""

import json
import logging
import uuid

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from presence.sync_models import Subscription
from presence.webhook import lookups as webhook_lookups
from presence.webhook import views as webhook
from tests.presence.support_webhook import (
    counter,
    graphish_fixture,  # noqa: F401
    token_signer_fixture,  # noqa: F401
)
from tests.support.task_queue import task_queue_fixture  # noqa: F401

USER = "6e0c2a4b-1f3d-4c5e-8a9b-0c1d2e3f4a5b"
NOTIFICATIONS = "/graph/notifications"
LIFECYCLE = "/graph/lifecycle"
IP = "203.0.113.9"

pytestmark = pytest.mark.usefixtures("rate_limit_window")


def post(body, *, path=NOTIFICATIONS, ip=IP):
    data = body if isinstance(body, bytes | str) else json.dumps(body)
    return Client(REMOTE_ADDR=ip).post(path, data=data, content_type="application/json")


def junk_items(count: int, *, graph_ids: list[str] | None = None) -> list[dict]:
    """Items as small as an attacker makes them, each naming a made-up subscription."""
    graph_ids = graph_ids or [str(uuid.uuid4()) for _ in range(count)]
    return [
        {"subscriptionId": graph_id, "clientState": "guess", "lifecycleEvent": "missed"}
        for graph_id in graph_ids
    ]


def subscription_queries(queries) -> list[str]:
    table = Subscription._meta.db_table
    return [query["sql"] for query in queries if f'FROM "{table}"' in query["sql"]]


# --- the size of one POST ---------------------------------------------------------------------


def test_a_megabyte_of_made_up_subscriptions_is_refused_before_any_lookup(db, task_queue):
    body = json.dumps({"value": junk_items(8000)})
    assert 850_000 < len(body) < 1024 * 1024

    with CaptureQueriesContext(connection) as queries:
        response = post(body)

    assert response.status_code == 413
    assert b"1000 items" in response.content
    assert subscription_queries(queries.captured_queries) == []
    assert counter("rejected_too_many_items") == 1
    assert task_queue.messages() == []


def test_a_batch_at_the_item_limit_is_read(graphish, task_queue):
    # Graph's rich items are large: a megabyte holds fewer of them than the item limit.
    rich = json.dumps(graphish.item(USER))
    assert len(rich) * webhook.MAX_ITEMS_PER_POST > 1024 * 1024

    basic = graphish.item(USER)
    del basic["encryptedContent"]
    response = post({"value": [basic] * webhook.MAX_ITEMS_PER_POST})

    assert response.status_code == 202
    assert counter("accepted_without_data") == webhook.MAX_ITEMS_PER_POST
    assert len(task_queue.notification_items()) == webhook.MAX_ITEMS_PER_POST
    assert counter("rejected_too_many_items") == 0


# --- unknown subscriptions ----------------------------------------------------------------------


def test_unknown_subscriptions_are_looked_up_in_one_query_per_post(
    db, task_queue, django_assert_max_num_queries
):
    # One query for the subscriptions, one for the counters.
    with django_assert_max_num_queries(2):
        response = post({"value": junk_items(webhook.MAX_ITEMS_PER_POST)})

    assert response.status_code == 202
    assert counter("rejected_unknown_subscription") == webhook.MAX_ITEMS_PER_POST
    assert task_queue.messages() == []


def test_an_unknown_subscription_is_remembered_briefly(db, task_queue):
    graph_ids = [str(uuid.uuid4()) for _ in range(20)]
    assert post({"value": junk_items(20, graph_ids=graph_ids)}).status_code == 202

    with CaptureQueriesContext(connection) as queries:
        assert post({"value": junk_items(20, graph_ids=graph_ids)}).status_code == 202

    assert subscription_queries(queries.captured_queries) == []
    assert counter("rejected_unknown_subscription") == 40


def test_a_subscription_saved_by_another_process_is_known_once_the_memory_lapses(
    graphish, task_queue, monkeypatch
):
    monkeypatch.setattr(webhook_lookups.recent_unknown_subscriptions, "ttl", 0.0)
    graph_id = str(uuid.uuid4())
    item = graphish.item(USER, subscriptionId=graph_id)
    assert post(graphish.body(item)).status_code == 202
    assert counter("rejected_unknown_subscription") == 1

    # The worker saves a subscription in its own process: no signal reaches this one.
    Subscription.objects.filter(pk=graphish.subscription.pk).update(graph_id=graph_id)

    assert post(graphish.body(item)).status_code == 202
    assert [change["user_id"] for change in task_queue.notification_items()] == [USER]


def test_a_subscription_saved_in_this_process_is_known_at_once(graphish, task_queue):
    graph_id = str(uuid.uuid4())
    item = graphish.item(USER, subscriptionId=graph_id.upper())
    assert post(graphish.body(item)).status_code == 202

    graphish.subscription.graph_id = graph_id
    graphish.subscription.save()

    assert post(graphish.body(item)).status_code == 202
    assert [change["user_id"] for change in task_queue.notification_items()] == [USER]


# --- what the sender is charged ------------------------------------------------------------------


def test_posts_whose_every_item_is_refused_count_toward_the_address_limit(db, settings):
    settings.WEBHOOK_REJECT_LIMIT_PER_MINUTE = 2
    assert [post({"value": junk_items(3)}).status_code for _ in range(2)] == [202, 202]

    assert post({"value": junk_items(3)}).status_code == 429
    assert post({"value": junk_items(3)}, path=LIFECYCLE).status_code == 429
    assert post({"value": junk_items(3)}, ip="198.51.100.4").status_code == 202


def test_an_empty_batch_counts_as_refused(db, settings):
    settings.WEBHOOK_REJECT_LIMIT_PER_MINUTE = 1
    assert post({"value": []}).status_code == 202
    assert post({"value": []}).status_code == 429


def test_a_batch_with_one_genuine_item_is_never_charged(graphish, settings, task_queue):
    settings.WEBHOOK_REJECT_LIMIT_PER_MINUTE = 1
    for sequence in range(4):
        body = graphish.body(
            graphish.item(USER, subscriptionId=str(uuid.uuid4())),
            graphish.item(USER, clientState="guess"),
            graphish.item(USER, sequence=sequence),
        )
        assert post(body).status_code == 202
    assert len(task_queue.notification_items()) == 4


def test_genuine_items_graph_cannot_deliver_are_not_charged(graphish, settings, task_queue):
    """A known subscription and the right clientState: Graph sent it, even if the item is
    then refused (an old certificate); Graph's address must not be blocked for that."""
    settings.WEBHOOK_REJECT_LIMIT_PER_MINUTE = 1
    item = graphish.item(USER)
    item["encryptedContent"]["encryptionCertificateId"] = "retired"
    assert [post(graphish.body(item)).status_code for _ in range(3)] == [202, 202, 202]
    assert counter("rejected_unknown_certificate") == 3


# --- the log -------------------------------------------------------------------------------------


def test_refused_items_leave_one_log_line_per_post(db, caplog):
    items = junk_items(500)
    items[7]["subscriptionId"] = "line\nbreak"
    with caplog.at_level(logging.INFO, logger="presence.webhook.views"):
        assert post({"value": [*items, "not an object"]}).status_code == 202

    lines = [
        record.getMessage() for record in caplog.records if record.name == "presence.webhook.views"
    ]
    assert len(lines) == 1
    assert "501 items" in lines[0]
    assert "unknown_subscription=500" in lines[0]
    assert "malformed=1" in lines[0]
    assert "\n" not in lines[0]
    assert IP in lines[0]


def test_the_log_line_never_carries_a_client_state(graphish, caplog):
    item = graphish.item(USER, clientState="s3cret-guess")
    with caplog.at_level(logging.INFO, logger="presence.webhook.views"):
        assert post(graphish.body(item)).status_code == 202
    assert "bad_client_state=1" in caplog.text
    assert "s3cret-guess" not in caplog.text
    assert graphish.client_state not in caplog.text
