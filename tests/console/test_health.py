"""/healthz and the dashboard's system status."""

import re
from datetime import timedelta

import pytest
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone

from console.health import heartbeat_record
from console.models import Heartbeat
from console.tasks import record_heartbeat
from tests.plugins.celery_worker import wait_for

UNREACHABLE_BROKER = "redis://127.0.0.1:9/0"  # the discard port: nothing listens


def _healthz():
    response = Client().get(reverse("console:healthz"))
    return response.status_code, response.json()


def test_healthz_needs_no_login_and_is_ok_when_all_is_well(db):
    heartbeat_record()
    status, body = _healthz()
    assert status == 200
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"database", "broker", "worker"}
    assert all(check["ok"] for check in body["checks"].values())


def test_healthz_is_503_when_the_broker_is_unreachable(db):
    heartbeat_record()
    with override_settings(CELERY_BROKER_URL=UNREACHABLE_BROKER):
        status, body = _healthz()
    assert status == 503
    assert body["status"] == "fail"
    assert body["checks"]["broker"]["ok"] is False
    assert body["checks"]["database"]["ok"] is True


def test_healthz_is_503_when_the_heartbeat_is_stale(db, settings):
    heartbeat_record()
    stale = timezone.now() - timedelta(seconds=settings.HEARTBEAT_STALE_AFTER_SECONDS + 5)
    Heartbeat.objects.update(beat_at=stale)
    status, body = _healthz()
    assert status == 503
    assert body["checks"]["worker"]["ok"] is False
    assert "stale" in body["checks"]["worker"]["detail"]


def test_healthz_is_503_before_any_worker_has_beaten(db):
    status, body = _healthz()
    assert status == 503
    assert body["checks"]["worker"]["detail"] == "no heartbeat yet"


def test_the_worker_records_a_heartbeat_sent_through_the_broker(celery_worker):
    record_heartbeat.delay()
    wait_for(lambda: Heartbeat.objects.filter(name="worker").exists(), what="a heartbeat")
    status, _ = _healthz()
    assert status == 200


def test_beat_schedules_the_heartbeat_within_the_staleness_window(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["worker-heartbeat"]
    assert entry["task"] == "console.health.heartbeat_record"
    assert entry["schedule"] < settings.HEARTBEAT_STALE_AFTER_SECONDS / 2


@pytest.mark.parametrize("broken", [False, True])
def test_dashboard_shows_each_check(administrator_client, broken):
    heartbeat_record()
    broker = UNREACHABLE_BROKER if broken else None
    with override_settings(**({"CELERY_BROKER_URL": broker} if broker else {})):
        page = administrator_client.get(reverse("console:dashboard")).content.decode()
    assert 'data-check="worker"' in page
    # Seconds since the beat just recorded: a loaded machine may take a few to render.
    age = re.search(r"last heartbeat (\d+) s ago", page)
    assert age is not None and int(age.group(1)) <= 10
    assert ('class="check fail" data-check="broker"' in page) is broken
