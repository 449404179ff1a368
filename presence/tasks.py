"""Celery finds presence tasks here; each part of the sync engine keeps its own module."""

from presence.inbound_tasks import *  # noqa: F403
from presence.outbound_tasks import *  # noqa: F403
from presence.subscription_tasks import *  # noqa: F403
