"""The dashboard and /healthz show how much work waits on each queue, and for how long."""

import time
import uuid

import pytest
from django.test import Client, override_settings
from django.urls import reverse

from config.celery import app
from console.health import heartbeat_record
from console.queue_status import queue_statuses
from tests.support.worker_tasks import nap

UNREACHABLE_BROKER = "redis://127.0.0.1:9/0"


@pytest.fixture
def own_queues(settings):
    """Queues no worker of the session consumes, so what is sent there stays."""
    base = f"ccbridge-test-status-{uuid.uuid4().hex[:10]}"
    settings.TASK_QUEUES = {
        "interactive": f"{base}.interactive",
        "sync": f"{base}.sync",
        "bulk": f"{base}.bulk",
        "default": base,
    }
    yield settings.TASK_QUEUES

    with app.connection_for_write() as connection:
        for name in settings.TASK_QUEUES.values():
            connection.default_channel.queue_purge(name)


def _send(queue: str, count: int) -> None:
    for _ in range(count):
        nap.apply_async(kwargs={"seconds": 0}, queue=queue)


def _dashboard(client) -> str:
    return client.get(reverse("console:dashboard")).content.decode()


def test_each_queue_reports_how_many_wait_and_how_long_the_oldest_has(own_queues):
    _send(own_queues["bulk"], 3)
    _send(own_queues["interactive"], 1)

    statuses = {status.role: status for status in queue_statuses()}

    assert set(statuses) == {"interactive", "sync", "bulk", "default"}
    assert statuses["bulk"].depth == 3
    assert statuses["interactive"].depth == 1
    assert statuses["sync"].depth == 0
    assert statuses["sync"].oldest_seconds is None
    assert 0 <= statuses["bulk"].oldest_seconds < 30


def test_the_dashboard_shows_queue_depth_and_warns_when_work_waits_too_long(
    administrator_client, own_queues, settings, clock
):
    heartbeat_record()
    settings.QUEUE_WAIT_WARNING_SECONDS = 1
    _send(own_queues["interactive"], 2)
    page = _dashboard(administrator_client)
    assert 'class="check ok" data-queue="interactive"' in page
    assert "2 waiting" in page

    clock.advance(1.5)
    page = _dashboard(administrator_client)

    assert 'class="check fail" data-queue="interactive"' in page
    assert "more than 1 s" in page
    assert 'class="check ok" data-queue="bulk"' in page


def test_the_status_partial_the_dashboard_polls_carries_the_queues(
    administrator_client, own_queues
):
    _send(own_queues["sync"], 1)
    response = administrator_client.get(
        reverse("console:dashboard"), headers={"HX-Request": "true"}
    )
    assert 'data-queue="sync"' in response.content.decode()


def test_healthz_lists_the_queues_but_waiting_work_alone_is_not_a_failure(db, own_queues, settings):
    heartbeat_record()
    settings.QUEUE_WAIT_WARNING_SECONDS = 0
    _send(own_queues["bulk"], 2)
    time.sleep(0.05)

    response = Client().get(reverse("console:healthz"))

    assert response.status_code == 200
    bulk = response.json()["queues"]["bulk"]
    assert bulk["depth"] == 2
    assert bulk["waiting_too_long"] is True


def test_the_dashboard_still_answers_when_the_broker_is_unreachable(administrator_client):
    with override_settings(CELERY_BROKER_URL=UNREACHABLE_BROKER):
        response = administrator_client.get(reverse("console:dashboard"))
    assert response.status_code == 200
    assert "data-queue=" not in response.content.decode()
