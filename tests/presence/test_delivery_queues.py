"""ACD deliveries found by reconciliation wait on the bulk queue, not the live one.

Reconciling hundreds of newly mapped agents sends a delivery for each: on the live
presence sync queue they would delay every Teams change behind them for minutes.
"""

import pytest
from django.utils import timezone

from presence.to_acd import tasks as to_acd_tasks
from presence.to_acd.sync import teams_presence_apply
from tests.presence.support_webhook import acd_endpoint_set, mapped_agent, subscriber_rule
from tests.support.task_queue import own_queue


@pytest.fixture
def agent(unit):
    rule = subscriber_rule(unit, [("Busy", None, "working", None)])
    acd_endpoint_set("https://acd.example/hooks/teams")
    return mapped_agent(unit=unit, rule=rule)


@pytest.fixture
def queues(monkeypatch, settings):
    """The live queue (acd_deliver's own) and the bulk queue, both only this test reads."""
    with own_queue(monkeypatch, to_acd_tasks.acd_deliver) as live, own_queue(monkeypatch) as bulk:
        settings.TASK_QUEUES = {**settings.TASK_QUEUES, "bulk": bulk.name}
        yield live, bulk


def _observe(agent, source: str, sequence: int) -> None:
    teams_presence_apply(
        agent=agent,
        availability="Busy",
        activity="InACall",
        sequence=f"{sequence:020d}",
        observed_at=timezone.now(),
        source=source,
    )


def test_a_delivery_found_by_reconciliation_is_sent_on_the_bulk_queue(
    agent, queues, django_capture_on_commit_callbacks
):
    live, bulk = queues
    with django_capture_on_commit_callbacks(execute=True):
        _observe(agent, "reconcile", 1)

    assert live.messages() == []
    assert [task for task, _args, _kwargs in bulk.messages()] == [to_acd_tasks.acd_deliver.name]


def test_a_delivery_for_a_live_notification_stays_on_the_sync_queue(
    agent, queues, django_capture_on_commit_callbacks
):
    live, bulk = queues
    with django_capture_on_commit_callbacks(execute=True):
        _observe(agent, "notification", 1)

    assert [task for task, _args, _kwargs in live.messages()] == [to_acd_tasks.acd_deliver.name]
    assert bulk.messages() == []
