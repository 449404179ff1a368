"""The shell's own state: worker heartbeats and the console-wide permissions."""

from django.db import models


class Heartbeat(models.Model):
    """Last sign of life of a background component, written by a beat-scheduled task."""

    name = models.CharField(max_length=64, unique=True)
    beat_at = models.DateTimeField()
    hostname = models.CharField(max_length=255, blank=True)

    def __str__(self) -> str:
        return f"{self.name} @ {self.beat_at:%H:%M:%S}"


class ConsoleAccess(models.Model):
    """Holds permissions that belong to no table; never queried."""

    class Meta:
        managed = False
        default_permissions = ()
        permissions = [
            ("view_dashboard", "Can view the dashboard"),
            ("manage_users", "Can manage console users and their roles"),
            ("view_auditlog", "Can browse the audit log"),
            ("run_jobs", "Can start maintenance jobs"),
            ("manage_alerts", "Can choose alert recipients and read incidents and the outbox"),
        ]

    def __str__(self) -> str:
        return "console access"


class AlertRecipient(models.Model):
    """An address that gets an email when an incident opens and when it clears."""

    email = models.EmailField(unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["email"]

    def __str__(self) -> str:
        return self.email


class Incident(models.Model):
    """Something red, from the moment it turned red until it cleared.

    ``key`` names the signal (e.g. ``secret.expiry``); at most one incident per key
    is open at a time, so a signal that stays red is one incident and one email.
    """

    key = models.CharField(max_length=200)
    title = models.CharField(max_length=300)
    detail = models.TextField(blank=True)
    opened_at = models.DateTimeField()
    cleared_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-opened_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["key"],
                condition=models.Q(cleared_at__isnull=True),
                name="one_open_incident",
            )
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def is_open(self) -> bool:
        return self.cleared_at is None


class AlertEmail(models.Model):
    """An alert email as sent (the outbox screen shows them, so a demo sees its mail)."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="emails")
    to = models.EmailField()
    subject = models.CharField(max_length=300)
    body = models.TextField()
    sent_at = models.DateTimeField(auto_now_add=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-sent_at", "-id"]

    def __str__(self) -> str:
        return f"{self.to}: {self.subject}"
