"""A queue of the real broker that only one test reads, and its fixture.

The tasks under test are routed to it (their ``queue`` option), so a Celery
worker the session may have started never consumes them, and the test reads
exactly what the code handed over, through kombu as a worker would.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from amqp.exceptions import ChannelError
from celery import Task

from config.celery import app as celery_app
from presence.subscriptions import tasks as subscription_tasks
from presence.to_acd import tasks as to_acd_tasks


@dataclass
class TaskQueue:
    """A queue of the real broker (Redis, or the filesystem transport) only this test reads."""

    name: str
    queue: Any
    received: list[tuple[str, list[Any], dict[str, Any]]] = field(default_factory=list)

    def messages(self) -> list[tuple[str, list[Any], dict[str, Any]]]:
        """(task name, args, kwargs) of every message since the last clear, oldest first."""
        try:
            waiting = self.queue.qsize()
        except ChannelError:  # Redis drops a list once it is empty: nothing is waiting
            waiting = 0
        for _message in range(waiting):
            message = self.queue.get(timeout=5)
            args, kwargs, _embed = message.decode()
            self.received.append((message.headers["task"], args, kwargs))
            message.ack()
        return list(self.received)

    def kwargs_of(self, task_name: str) -> list[dict[str, Any]]:
        """The kwargs of each message for the task named ``task_name`` (its last part)."""
        return [kwargs for task, _args, kwargs in self.messages() if task.endswith(task_name)]

    def notification_messages(self) -> list[dict[str, Any]]:
        """The kwargs of each notifications_process message."""
        return [
            kwargs
            for task, _args, kwargs in self.messages()
            if task == to_acd_tasks.notifications_process.name
        ]

    def notification_items(self) -> list[dict[str, Any]]:
        return [item for kwargs in self.notification_messages() for item in kwargs["items"]]

    def lifecycle_events(self) -> list[tuple[str, str]]:
        return [
            (args[0], args[1])
            for task, args, _kwargs in self.messages()
            if task == subscription_tasks.subscription_lifecycle.name
        ]

    def clear(self) -> None:
        self.messages()
        self.received.clear()


@contextmanager
def own_queue(monkeypatch, *tasks: Task) -> Iterator[TaskQueue]:
    """Route ``tasks`` to a new queue of the real broker for the test; yield its reader."""
    name = f"ccbridge-test-{uuid.uuid4().hex[:12]}"
    for task in tasks:
        monkeypatch.setattr(task, "queue", name, raising=False)
        monkeypatch.setattr(task, "_exec_options", None, raising=False)
    with celery_app.connection_for_read() as connection:
        simple = connection.SimpleQueue(name, serializer="json")
        queue = TaskQueue(name=name, queue=simple)
        try:
            yield queue
        finally:
            queue.clear()
            simple.queue.delete()
            simple.close()


@pytest.fixture(name="task_queue")
def task_queue_fixture(monkeypatch) -> Iterator[TaskQueue]:
    """The webhook's two tasks routed to a queue of their own for this test."""
    tasks = (to_acd_tasks.notifications_process, subscription_tasks.subscription_lifecycle)
    with own_queue(monkeypatch, *tasks) as queue:
        yield queue
