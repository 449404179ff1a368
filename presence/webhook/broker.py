"""The webhook's hand-over to the worker: one task message, one Redis round trip.

Celery's ``Task.delay`` costs about 0.7 ms of CPU per call on this stack
(options and routing, kombu's producer pool and retry wrapper, a new redis-py
client object for every publish): more than checking and decrypting the
notification it carries. So on a Redis broker the webhook's task messages are
written here: Celery builds the message (``amqp.as_task_v2``: the headers and
body a worker reads), it is wrapped as kombu's Redis transport wraps it and
pushed onto the queue's list with one LPUSH over a connection pool kept for the
process. A worker cannot tell the difference; tests/presence/test_webhook_broker.py
reads such messages back through kombu and runs them on a real worker.

Anything this does not reproduce (another broker, a key prefix, routes other
than a plain {task name: queue} mapping, eager mode) goes through Celery as before.
"""

from __future__ import annotations

import base64
import json
import os
import threading
import time
import uuid
from typing import Any

import redis
from celery import Task
from celery.utils.nodenames import anon_nodename
from redis.backoff import NoBackoff
from redis.retry import Retry

from config.queues import ENQUEUED_AT_HEADER

# Graph wants an answer within 3 s: a broker silent for 2 s is down, and the webhook says 503.
BROKER_TIMEOUT_SECONDS = 2.0

_clients: dict[str, redis.Redis] = {}
_clients_lock = threading.Lock()
_origins: dict[int, str] = {}


def _client(url: str) -> redis.Redis:
    """A client for ``url`` with its own connection pool, kept for the process."""
    client = _clients.get(url)
    if client is None:
        with _clients_lock:
            client = _clients.get(url)
            if client is None:
                client = redis.Redis.from_url(
                    url,
                    socket_timeout=BROKER_TIMEOUT_SECONDS,
                    socket_connect_timeout=BROKER_TIMEOUT_SECONDS,
                    # One new connection when a kept one went stale (Redis restarted).
                    retry=Retry(NoBackoff(), 1),
                )
                _clients[url] = client
    return client


def _origin() -> str:
    """This process's name in the message headers ("gen<pid>@<host>", as Celery's),
    worked out once per process rather than for every message."""
    pid = os.getpid()
    origin = _origins.get(pid)
    if origin is None:
        origin = _origins[pid] = anon_nodename()
    return origin


def _redis_queue(task: Task) -> tuple[str, str] | None:
    """(broker URL, queue name) when ``task`` can be sent with a plain LPUSH, else None."""
    conf = task.app.conf
    url = conf.broker_url
    if not isinstance(url, str) or not url.startswith("redis://") or ";" in url:
        return None
    plain = _plain_setup.get(url)
    if plain is None:
        # Read once per broker URL: each of these settings costs Celery a lookup chain.
        options = conf.broker_transport_options or {}
        routes = conf.task_routes
        plain = not (
            conf.task_always_eager
            or options.get("global_keyprefix")
            or (routes and not isinstance(routes, dict))
        )
        _plain_setup[url] = plain
    if not plain:
        return None
    # A queue set on the task wins over the routes, as it does in Celery's router.
    queue = getattr(task, "queue", None) or _routed_queue(task)
    return (url, queue) if isinstance(queue, str) and queue else None


def _routed_queue(task: Task) -> str:
    """The queue config/queues.py routes ``task`` to (a plain {name: route} mapping),
    worked out once per task name and routing table."""
    conf = task.app.conf
    routes = conf.task_routes or {}
    key = (task.name, conf.task_default_queue, id(routes))
    queue = _routed.get(key)
    if queue is None:
        route = routes.get(task.name) or {}
        routed = route if isinstance(route, str) else route.get("queue")
        queue = _routed[key] = routed or conf.task_default_queue
    return queue


_plain_setup: dict[str, bool] = {}
_routed: dict[tuple[str, str, int], str] = {}


def task_send(task: Task, kwargs: dict[str, Any], *, kwargsrepr: str) -> str | None:
    """Queue ``task(**kwargs)`` with one LPUSH; returns the task id.

    None when the broker is not one this writes to, or ``kwargs`` is not plain
    JSON (the caller then uses ``apply_async``). Raises redis' ConnectionError or
    TimeoutError when the broker is unreachable: nothing was queued.
    """
    target = _redis_queue(task)
    if target is None:
        return None
    url, queue = target
    app = task.app
    task_id = str(uuid.uuid4())
    message = app.amqp.as_task_v2(
        task_id,
        task.name,
        (),
        kwargs,
        time_limit=task.time_limit,
        soft_time_limit=task.soft_time_limit,
        ignore_result=task.ignore_result,
        argsrepr="()",
        kwargsrepr=kwargsrepr,
        reply_to=app.thread_oid,
        origin=_origin(),
    )
    try:
        # Plain json: the webhook's items are strings and None, which kombu's encoder
        # writes the same way, only slower. Anything else is left to Celery.
        body = json.dumps(message.body)
    except TypeError:
        return None
    # kombu's Redis transport: a JSON envelope, the serialized body in base64, the
    # default exchange (so the routing key is the queue), priority 0 (the plain list).
    envelope = {
        "body": base64.b64encode(body.encode()).decode(),
        "content-encoding": "utf-8",
        "content-type": "application/json",
        "headers": {**message.headers, ENQUEUED_AT_HEADER: time.time()},
        "properties": {
            **message.properties,
            "delivery_mode": 2,
            "delivery_info": {"exchange": "", "routing_key": queue},
            "priority": 0,
            "body_encoding": "base64",
            "delivery_tag": str(uuid.uuid4()),
        },
    }
    _client(url).lpush(queue, json.dumps(envelope))
    return task_id
