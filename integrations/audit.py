"""The audit log: one call records who changed what."""

from typing import Any

from django.db import models

from integrations.models import AuditEntry

# Field names whose values must never reach the log, only the fact they changed.
SECRET_FIELDS = frozenset(
    {"client_secret", "password", "secret", "token", "private_key", "api_key", "token_cache"}
)


def _redact(changes: dict[str, Any]) -> dict[str, Any]:
    clean: dict[str, Any] = {}
    for field, value in changes.items():
        if any(part in field.lower() for part in SECRET_FIELDS):
            clean[field] = "(changed)"
        else:
            clean[field] = value
    return clean


def audit_record(
    *,
    actor,
    action: str,
    summary: str,
    target: models.Model | None = None,
    changes: dict[str, Any] | None = None,
) -> AuditEntry:
    """Write one audit entry. Values of secret-like fields are replaced by "(changed)"."""
    is_person = actor is not None and getattr(actor, "pk", None)
    return AuditEntry.objects.create(
        actor=actor if is_person else None,
        actor_name=actor.get_username() if is_person else "system",
        action=action,
        target_type=target._meta.label if target is not None else "",
        target_id=str(target.pk) if target is not None else "",
        summary=summary[:500],
        changes=_redact(changes or {}),
    )
