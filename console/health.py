"""System status checks shared by the dashboard and /healthz."""

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import connection
from django.utils import timezone

from config.celery import app as celery_app
from console.models import Heartbeat

WORKER_HEARTBEAT = "worker"


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


def check_database() -> Check:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:
        return Check("database", False, f"unreachable: {type(exc).__name__}")
    return Check("database", True, connection.vendor)


def check_broker() -> Check:
    """Open a fresh connection to the configured broker and talk to it once."""
    url = settings.CELERY_BROKER_URL
    try:
        with celery_app.connection_for_write(url=url, connect_timeout=2) as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, timeout=3)
            conn.default_channel  # noqa: B018 - opening the channel talks to the broker
    except Exception as exc:
        return Check("broker", False, f"unreachable: {type(exc).__name__}")
    return Check("broker", True, url.split("://", 1)[0])


def last_heartbeat(name: str = WORKER_HEARTBEAT) -> datetime | None:
    beat = Heartbeat.objects.filter(name=name).values_list("beat_at", flat=True).first()
    return beat


def check_worker() -> Check:
    beat_at = last_heartbeat()
    if beat_at is None:
        return Check("worker", False, "no heartbeat yet")
    age = (timezone.now() - beat_at).total_seconds()
    stale_after = settings.HEARTBEAT_STALE_AFTER_SECONDS
    if age > stale_after:
        detail = f"last heartbeat {age:.0f} s ago (stale after {stale_after} s)"
        return Check("worker", False, detail)
    return Check("worker", True, f"last heartbeat {age:.0f} s ago")


def system_checks() -> list[Check]:
    return [check_database(), check_broker(), check_worker()]


def heartbeat_record(*, name: str = WORKER_HEARTBEAT, hostname: str = "") -> None:
    """Store that `name` is alive now (called by the beat-scheduled worker task)."""
    Heartbeat.objects.update_or_create(
        name=name, defaults={"beat_at": timezone.now(), "hostname": hostname[:255]}
    )
