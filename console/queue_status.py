"""How much work waits on each task queue, and how long the oldest has waited.

The worker heartbeat alone cannot say that work is stuck: it runs on the
interactive queue, so it stays fresh while presence sync or bulk work piles up.
This reads the broker directly: on Redis, each queue's list length and the
enqueue time its oldest message carries (config/queues.py, ENQUEUED_AT_HEADER);
on the filesystem broker, its message files and the oldest file's time.
"""

import json
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

import redis
from django.conf import settings

from config.queues import ENQUEUED_AT_HEADER

logger = logging.getLogger(__name__)

BROKER_TIMEOUT_SECONDS = 2.0


@dataclass(frozen=True)
class QueueStatus:
    role: str
    name: str
    depth: int
    # None when nothing waits, or the oldest message carries no enqueue time.
    oldest_seconds: float | None
    warn_after_seconds: int

    @property
    def waiting_too_long(self) -> bool:
        return self.oldest_seconds is not None and self.oldest_seconds > self.warn_after_seconds

    @property
    def detail(self) -> str:
        if not self.depth:
            return "nothing waiting"
        text = f"{self.depth} waiting"
        if self.oldest_seconds is not None:
            text += f", the oldest for {self.oldest_seconds:.0f} s"
        if self.waiting_too_long:
            text += (
                f": work has waited more than {self.warn_after_seconds} s, "
                "the workers are not keeping up"
            )
        return text


def queue_statuses() -> list[QueueStatus]:
    """Every queue of settings.TASK_QUEUES with its depth and oldest message's age.

    Empty when the broker cannot be read (the broker check says why) or is of a
    kind this does not know.
    """
    url = settings.CELERY_BROKER_URL
    warn_after = settings.QUEUE_WAIT_WARNING_SECONDS
    try:
        if url.startswith(("redis://", "rediss://")):
            measure = _redis_measure(url)
        elif url.startswith("filesystem://"):
            measure = _filesystem_measure(Path(settings.BROKER_DIR))
        else:
            return []
        return [
            QueueStatus(role, name, *measure(name), warn_after_seconds=warn_after)
            for role, name in settings.TASK_QUEUES.items()
        ]
    except (redis.RedisError, OSError) as exc:
        logger.warning("could not read the task queues: %s", type(exc).__name__)
        return []


def _redis_measure(url: str):
    client = redis.Redis.from_url(
        url, socket_timeout=BROKER_TIMEOUT_SECONDS, socket_connect_timeout=BROKER_TIMEOUT_SECONDS
    )

    def measure(name: str) -> tuple[int, float | None]:
        # kombu pushes on the left and workers pop on the right: the oldest is last.
        with client.pipeline(transaction=False) as pipe:
            depth, oldest = pipe.llen(name).lindex(name, -1).execute()
        return int(depth), _age(_enqueued_at(oldest))

    return measure


def _enqueued_at(raw: bytes | None) -> float | None:
    if raw is None:
        return None
    try:
        value = json.loads(raw).get("headers", {}).get(ENQUEUED_AT_HEADER)
    except (ValueError, AttributeError):
        return None
    return float(value) if isinstance(value, int | float) else None


def _filesystem_measure(folder: Path):
    # kombu's filesystem transport names each message "<time>_<uuid>.<queue>.msg".
    names = os.listdir(folder)

    def measure(name: str) -> tuple[int, float | None]:
        suffix = f"{name}.msg"
        oldest = None
        depth = 0
        for filename in names:
            if filename.partition(".")[2] != suffix:
                continue
            try:
                modified = (folder / filename).stat().st_mtime
            except FileNotFoundError:  # a worker took it meanwhile
                continue
            depth += 1
            oldest = modified if oldest is None else min(oldest, modified)
        return depth, _age(oldest)

    return measure


def _age(since: float | None) -> float | None:
    return None if since is None else max(0.0, time.time() - since)
