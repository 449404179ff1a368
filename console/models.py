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
        ]

    def __str__(self) -> str:
        return "console access"
