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
# presence keeps a tasks module in each part of the sync engine.
app.autodiscover_tasks(
    [
        "presence.to_teams",
        "presence.to_acd",
        "presence.subscriptions",
        "integrations.setup",
        "console.alerts",
    ]
)

# Task names. Every task is declared with an explicit, stable ``name=``:
# "<app>.<concern>.<action>", e.g. "presence.to_teams.agent_events_apply" or
# "accounts.directory.sync": the Django app, the part of it the task serves (a
# presence sub-package, or the capability), and what it does. Never the module
# path: moving code must not rename a task, since queued messages, the beat
# schedule (config/settings.py), routing (config/queues.py) and the JobRun rows
# that jobs_recover sends again all refer to tasks by name. Services send tasks by
# name (integrations.jobs.task_enqueue) rather than importing task modules.


@before_task_publish.connect
def _stamp_enqueued_at(headers: dict | None = None, **_kwargs) -> None:
    if headers is not None:
        headers[ENQUEUED_AT_HEADER] = time.time()
