"""Agents CSV uploads kept on the server between the preview and the import.

The import step names an upload by its token instead of sending the file again: a
file resent as a form field would run into Django's limit for form fields (2.5 MB)
well before the 5 MB the page allows.
"""

from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from accounts.csvimport import CsvPreview, csv_preview
from accounts.models import AgentImportUpload
from accounts.services import UpsertResult, agents_upsert

UPLOAD_LIFETIME = timedelta(minutes=30)
# Previews a person may have waiting at once, e.g. in several tabs; older ones go.
UPLOADS_KEPT_PER_OWNER = 3


class UploadUnavailable(Exception):
    """The upload cannot be imported; the message tells the person what to do."""

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message)
        self.status = status


NOT_AVAILABLE = (
    "This upload is not available: it was imported already, or it is not yours. "
    "Upload the file again."
)
EXPIRED = (
    f"This upload expired: an upload waits {UPLOAD_LIFETIME.seconds // 60} minutes for its "
    "import. Upload the file again."
)


@dataclass
class ImportOutcome:
    """The rows as checked again at import time, and the upsert's result when they passed."""

    preview: CsvPreview
    result: UpsertResult | None


def agent_import_upload_create(
    *, owner, original_name: str, data: bytes, encoding: str, row_count: int
) -> AgentImportUpload:
    """Keep a previewed file for its owner's import; purge expired uploads on the way.

    Also deletes the owner's oldest waiting uploads beyond UPLOADS_KEPT_PER_OWNER.
    """
    agent_import_uploads_purge()
    upload = AgentImportUpload.objects.create(
        owner=owner,
        original_name=original_name[:255],
        data=data,
        encoding=encoding,
        row_count=row_count,
        expires_at=timezone.now() + UPLOAD_LIFETIME,
    )
    older = AgentImportUpload.objects.filter(owner=owner).order_by("-created_at", "-pk")
    stale = older.values_list("pk", flat=True)[UPLOADS_KEPT_PER_OWNER:]
    AgentImportUpload.objects.filter(pk__in=list(stale)).delete()
    return upload


def agent_import_uploads_purge() -> int:
    """Delete every expired upload; return how many."""
    deleted, _ = AgentImportUpload.objects.filter(expires_at__lte=timezone.now()).delete()
    return deleted


def agent_import_upload_import(*, actor, token) -> ImportOutcome:
    """Check an upload's rows again and import them all or none, once.

    Only the person who uploaded the file may import it, before it expires. The upload
    is deleted once read, whether its rows pass or not; if the upsert itself fails
    (accounts.services.MappingError) nothing changes and the upload stays.
    Raises UploadUnavailable (with an HTTP status) for an unknown, someone else's,
    already imported or expired upload.
    """
    with transaction.atomic():
        # Locked, so a double-clicked Import waits for the first and then finds nothing.
        upload = AgentImportUpload.objects.select_for_update().filter(token=token).first()
        if upload is None or upload.owner_id != actor.pk:
            raise UploadUnavailable(NOT_AVAILABLE, status=404)
        if upload.expires_at <= timezone.now():
            raise UploadUnavailable(EXPIRED, status=410)
        preview = csv_preview(bytes(upload.data), encoding=upload.encoding)
        upload.delete()
        result = None
        if preview.ok:
            result = agents_upsert(actor=actor, rows=preview.agents, source="CSV upload")
    return ImportOutcome(preview=preview, result=result)
