"""Open and clear incidents, and email the recipients once for each."""

from __future__ import annotations

import logging
from datetime import datetime

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.utils import timezone

from console.alerts.signals import Signal, red_signals
from console.models import AlertEmail, AlertRecipient, Incident

logger = logging.getLogger(__name__)


def _send(incident: Incident, subject: str, body: str) -> int:
    sent = 0
    for recipient in AlertRecipient.objects.all():
        error = ""
        try:
            send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [recipient.email])
            sent += 1
        except Exception as exc:  # SMTP down: recorded on the outbox, tried with the next
            logger.warning("alert to %s not sent: %s", recipient.email, exc)
            error = f"{type(exc).__name__}: {exc}"
        AlertEmail.objects.create(
            incident=incident, to=recipient.email, subject=subject, body=body, error=error
        )
    return sent


def _open(signal: Signal, now: datetime) -> Incident | None:
    """Open an incident for ``signal`` unless one is open already (then None)."""
    if Incident.objects.filter(key=signal.key, cleared_at__isnull=True).exists():
        return None
    try:
        with transaction.atomic():
            return Incident.objects.create(
                key=signal.key, title=signal.title, detail=signal.detail, opened_at=now
            )
    except IntegrityError:  # another worker opened it a moment ago
        return None


def alerts_evaluate(*, now: datetime | None = None) -> dict[str, int]:
    """Compare what is red now with the open incidents: open (and email) the new
    ones, clear (and email) those no longer red. Returns {"opened": n, "cleared": n}.
    Safe to run from several processes: an incident opens and clears once."""
    now = now or timezone.now()
    red = {s.key: s for s in red_signals(now)}
    opened = cleared = 0
    for signal in red.values():
        incident = _open(signal, now)
        if incident is not None:
            opened += 1
            _send(
                incident,
                f"[ccbridge] Alert: {incident.title}",
                f"{incident.title}\n\n{incident.detail}\n\nOpened {now:%Y-%m-%d %H:%M} UTC. "
                "You get one more email when it clears.",
            )
    for incident in Incident.objects.filter(cleared_at__isnull=True).exclude(key__in=red):
        if Incident.objects.filter(pk=incident.pk, cleared_at__isnull=True).update(cleared_at=now):
            cleared += 1
            _send(
                incident,
                f"[ccbridge] Cleared: {incident.title}",
                f"{incident.title}: cleared {now:%Y-%m-%d %H:%M} UTC (opened "
                f"{incident.opened_at:%Y-%m-%d %H:%M} UTC).",
            )
    return {"opened": opened, "cleared": cleared}


def alert_recipient_add(*, email: str) -> AlertRecipient:
    recipient, _ = AlertRecipient.objects.get_or_create(email=email.strip().lower())
    return recipient


def alert_recipient_remove(*, recipient_id: int) -> None:
    AlertRecipient.objects.filter(pk=recipient_id).delete()
