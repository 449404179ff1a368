"""The Celery application: configured from Django settings (CELERY_*)."""

import os
import time

from celery import Celery
from celery.signals import before_task_publish

from config.queues import ENQUEUED_AT_HEADER

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("ccbridge")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@before_task_publish.connect
def _stamp_enqueued_at(headers: dict | None = None, **_kwargs) -> None:
    if headers is not None:
        headers[ENQUEUED_AT_HEADER] = time.time()
