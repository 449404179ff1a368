"""The webhook's counters when many web threads count at once (a group commit).

Each POST's counts are in WebhookCounter when its answer is sent, whichever thread
wrote them; nothing is counted twice or lost.
"""

import json
import threading
from collections import Counter

import pytest
from django.db import connection
from django.test import Client

from presence.webhook.counters import counters_add
from tests.presence.support_webhook import (
    counter,
    graphish_fixture,  # noqa: F401
    token_signer_fixture,  # noqa: F401
)
from tests.support.task_queue import task_queue_fixture  # noqa: F401

USERS = [f"6e0c2a4b-1f3d-4c5e-8a9b-0c1d2e3f4a{n:02d}" for n in range(8)]
THREADS = 8


def in_threads(work, count: int = THREADS) -> list[BaseException]:
    """Run ``work(number)`` in ``count`` threads at once; returns what they raised."""
    start = threading.Barrier(count)
    errors: list[BaseException] = []

    def run(number: int) -> None:
        try:
            start.wait()
            work(number)
        except BaseException as exc:  # reported to the test below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return errors


@pytest.mark.django_db(transaction=True)
def test_counts_added_by_many_threads_at_once_are_all_in_the_table():
    def work(number: int) -> None:
        for _ in range(50):
            counters_add(Counter({"accepted": 1, f"thread_{number}": 2}))
            # Each call returns only once its counts are written.
            assert counter(f"thread_{number}") > 0

    assert in_threads(work) == []
    assert counter("accepted") == THREADS * 50
    assert [counter(f"thread_{n}") for n in range(THREADS)] == [100] * THREADS


@pytest.mark.django_db(transaction=True)
def test_concurrent_genuine_posts_are_each_counted_and_queued_once(graphish, task_queue):
    bodies = [
        [json.dumps(graphish.body(graphish.item(USERS[n], sequence=10 * n + k))) for k in range(5)]
        for n in range(THREADS)
    ]

    def work(number: int) -> None:
        client = Client()
        for body in bodies[number]:
            response = client.post(
                "/graph/notifications", data=body, content_type="application/json"
            )
            assert response.status_code == 202

    assert in_threads(work) == []
    assert counter("accepted") == THREADS * 5
    assert len(task_queue.notification_items()) == THREADS * 5
