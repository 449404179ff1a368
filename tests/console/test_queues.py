"""Task queues: a person's job starts within seconds, whatever bulk work is waiting."""

import re
import time

import pytest
from django.conf import settings

from config.celery import app as celery_app
from config.queues import BULK, INTERACTIVE, ROUTED_TASKS, SYNC
from console.tasks import system_selfcheck
from integrations.jobs import job_enqueue
from integrations.models import JobRun
from tests.plugins.celery_worker import wait_for
from tests.support.worker_tasks import nap

OUR_APPS = ("accounts.", "chat.", "console.", "integrations.", "presence.", "demo.", "mailboxes.")
# "<app>.<concern>.<action>" (config/celery.py): lower case, three parts, the app first.
TASK_NAME = re.compile(
    r"(accounts|chat|console|demo|integrations|mailboxes|presence)\.[a-z_]+\.[a-z_]+"
)
# Two worker processes, half a second each: 15 s of bulk work ahead of the job.
FLOOD = 60
NAP_SECONDS = 0.5


def _routed_queue(task_name: str) -> str:
    return celery_app.amqp.router.route({}, task_name)["queue"].name


def _queue_depth(name: str) -> int:
    with celery_app.connection_for_read() as connection:
        return connection.default_channel.client.llen(name) if _on_redis() else _files(name)


def _on_redis() -> bool:
    return settings.CELERY_BROKER_URL.startswith("redis://")


def _files(name: str) -> int:
    return sum(1 for path in settings.BROKER_DIR.glob(f"*.{name}.msg"))


def _our_tasks() -> dict:
    # Importing the task modules runs Django's checks, which on SQLite ask the database.
    celery_app.loader.import_default_modules()
    ours = {
        name: task
        for name, task in celery_app.tasks.items()
        if task.run.__module__.startswith(OUR_APPS)
    }
    assert ours, "no tasks found"
    return ours


def test_every_task_of_the_console_is_routed_to_a_queue_by_its_kind(db):
    unrouted = set(_our_tasks()) - set(settings.CELERY_TASK_ROUTES)
    assert unrouted == set(), f"add these to config/queues.py: {sorted(unrouted)}"


def test_every_task_has_a_stable_name_of_its_own_not_its_module_path(db):
    # A name derived from the module moves with the code and strands queued messages,
    # beat entries and the JobRun rows that are sent again by name.
    by_module_path = {
        name: f"{task.run.__module__}.{task.run.__name__}"
        for name, task in _our_tasks().items()
        if name == f"{task.run.__module__}.{task.run.__name__}"
    }
    assert by_module_path == {}, "give these tasks an explicit name= (config/celery.py)"
    unreadable = sorted(name for name in _our_tasks() if not TASK_NAME.fullmatch(name))
    assert unreadable == [], "task names read <app>.<concern>.<action>"


def test_the_routing_table_and_the_beat_schedule_name_only_tasks_that_exist(db):
    registered = set(_our_tasks())
    routed = {name for names in ROUTED_TASKS.values() for name in names}
    scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert routed - registered == set()
    assert scheduled - registered == set()


@pytest.mark.parametrize(
    ("task_name", "role"),
    [
        ("integrations.account.test_connection", INTERACTIVE),
        ("presence.subscriptions.system_users_create", INTERACTIVE),
        ("console.health.heartbeat_record", INTERACTIVE),
        ("chat.conference.invite", INTERACTIVE),
        ("chat.inbound.notifications_process", SYNC),
        ("presence.to_acd.deliver", SYNC),
        ("presence.to_acd.notifications_process", SYNC),
        ("presence.to_teams.agent_events_apply", SYNC),
        ("accounts.directory.sync", BULK),
        ("presence.to_acd.reconcile", BULK),
    ],
)
def test_each_kind_of_work_has_a_queue_of_its_own_under_the_sessions_queue(task_name, role):
    base = settings.CELERY_TASK_DEFAULT_QUEUE
    assert _routed_queue(task_name) == f"{base}.{role}"


@pytest.mark.worker
@pytest.mark.serial  # a time bound: a neighbour's load would delay the job, not the code
def test_a_persons_job_starts_while_bulk_work_is_still_queued(celery_worker):
    bulk = settings.TASK_QUEUES[BULK]
    for _ in range(FLOOD):
        nap.apply_async(kwargs={"seconds": NAP_SECONDS}, queue=bulk)

    job = job_enqueue(kind="system.selfcheck", task=system_selfcheck)
    wait_for(
        lambda: JobRun.objects.filter(pk=job.pk, started_at__isnull=False).exists(),
        timeout=30,
        what="the self-check to start",
    )
    still_queued = _queue_depth(bulk)

    assert still_queued > FLOOD / 3, "the job waited for the bulk work ahead of it"
    # ...and the worker consumes the bulk queue too: the flood drains.
    wait_for(lambda: _queue_depth(bulk) == 0, timeout=60, what="the bulk queue to drain")
    assert JobRun.objects.get(pk=job.pk).status == JobRun.Status.SUCCEEDED


@pytest.mark.worker
@pytest.mark.serial
@pytest.mark.skipif(_on_redis(), reason="the embedded filesystem broker's polling")
def test_the_embedded_broker_drains_far_faster_than_the_demo_adds_work(celery_worker):
    # kombu's default polling (1 s whenever the worker's prefetch is full) drained
    # about 2 tasks/s, the demo's own rate: 40 took 20 s.
    sync = settings.TASK_QUEUES[SYNC]
    for _ in range(40):
        nap.apply_async(kwargs={"seconds": 0}, queue=sync)
    started = time.monotonic()

    wait_for(lambda: _queue_depth(sync) == 0, timeout=60, what="the sync queue to drain")

    assert time.monotonic() - started < 10
