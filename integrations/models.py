"""Operational records every part of the console writes: job runs and the audit log."""

from django.conf import settings
from django.db import models
from django.utils import timezone

from integrations.fields import EncryptedTextField

# Human names of job kinds; a kind missing here shows as its code.
JOB_KIND_LABELS = {
    "system.selfcheck": "System self-check",
    "account.test": "Test connection",
    "account.expiry": "Read the secret's expiry",
    "directory.sync": "Directory sync",
    "subscriptions.sync": "Subscription sync",
    "subscriptions.maintain": "Subscription maintenance",
    "system_users.create": "Create system users",
    "setup.checks": "Setup checks",
    "mailbox.test": "Test mailbox",
}


class JobRun(models.Model):
    """One run of a background job, polled by the page that started it."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    kind = models.CharField(max_length=64)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    progress_done = models.PositiveIntegerField(default=0)
    progress_total = models.PositiveIntegerField(default=0)
    counts = models.JSONField(default=dict, blank=True)
    message = models.CharField(max_length=500, blank=True)
    error = models.TextField(blank=True)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # What to send again when the worker running the job dies (integrations/jobs.py):
    # the task's name and arguments, which sending this is and when it went out, and
    # the running worker's last sign of life.
    task_name = models.CharField(max_length=200, blank=True)
    task_kwargs = models.JSONField(default=dict, blank=True)
    attempt = models.PositiveSmallIntegerField(default=1)
    sent_at = models.DateTimeField(default=timezone.now)
    heartbeat_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["kind", "-created_at"]),
            models.Index(
                fields=["status", "heartbeat_at"],
                name="jobrun_unfinished",
                condition=models.Q(status__in=["queued", "running"]),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk} ({self.status})"

    @property
    def kind_label(self) -> str:
        return JOB_KIND_LABELS.get(self.kind, self.kind)

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.SUCCEEDED, self.Status.FAILED)

    @property
    def percent(self) -> int:
        if self.progress_total <= 0:
            return 100 if self.is_finished else 0
        return min(100, round(100 * self.progress_done / self.progress_total))

    @property
    def duration_seconds(self) -> float | None:
        if self.started_at and self.finished_at:
            return (self.finished_at - self.started_at).total_seconds()
        return None


class AuditEntry(models.Model):
    """Who changed what, and when. Never holds a secret's value."""

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    # Kept as text too, so the entry still names its author after the user is deleted.
    actor_name = models.CharField(max_length=150)
    action = models.CharField(max_length=64)
    target_type = models.CharField(max_length=64, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    summary = models.CharField(max_length=500)
    changes = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "audit entries"

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor_name}: {self.summary}"


class PhoneType(models.TextChoices):
    BUSINESS = "business", "Business"
    MOBILE = "mobile", "Mobile"
    FAX = "fax", "Fax"


def default_phone_types() -> list[str]:
    return [PhoneType.BUSINESS.value, PhoneType.MOBILE.value, PhoneType.FAX.value]


class LicensingMode(models.TextChoices):
    EVALUATION = "evaluation", "Evaluation"
    PRODUCTION = "production", "Production (payment model B)"


# The seven chat system messages: field name, label, default text.
CHAT_MESSAGES = (
    ("msg_party_joined", "Party joined", "joined the session"),
    ("msg_party_left", "Party left", "left the session"),
    (
        "msg_invitation",
        "Invitation to join",
        "You are invited to customer chat session, would you like to accept (YES/NO)?",
    ),
    ("msg_positive_response", "Positive response", "YES"),
    ("msg_negative_response", "Negative response", "NO"),
    ("msg_session_ended", "Session ended", "Customer chat session ended"),
    ("msg_leave_command", "Leave any time command", "BYE"),
)
CHAT_MESSAGE_DEFAULTS = {field: default for field, _label, default in CHAT_MESSAGES}
CHAT_MESSAGE_MAX_LENGTH = 255


class IntegrationAccount(models.Model):
    """The one Teams integration account: the Azure app ccbridge signs in as.

    The client secret and the token cache are stored encrypted (see
    integrations/fields.py) and are only ever read by services.
    """

    class ExpirySource(models.TextChoices):
        MANUAL = "manual", "Entered by hand"
        GRAPH = "graph", "Read from Microsoft Graph"

    # Exactly one row may exist: the column is always True and unique.
    singleton = models.BooleanField(default=True, editable=False)
    name = models.CharField(max_length=200)
    object_id = models.CharField("Object ID", max_length=36, blank=True)
    tenant = models.CharField("Directory (tenant) ID", max_length=253)
    client_id = models.CharField("Client ID", max_length=36)
    client_secret = EncryptedTextField(blank=True, db_column="client_secret_encrypted")
    secret_expires_at = models.DateTimeField("Expires at", null=True, blank=True)
    secret_expiry_source = models.CharField(
        max_length=16, choices=ExpirySource.choices, default=ExpirySource.MANUAL
    )
    licensing_mode = models.CharField(
        max_length=16, choices=LicensingMode.choices, default=LicensingMode.EVALUATION
    )
    phone_types = models.JSONField(default=default_phone_types)

    msg_party_joined = models.CharField(
        "Party joined",
        max_length=CHAT_MESSAGE_MAX_LENGTH,
        default=CHAT_MESSAGE_DEFAULTS["msg_party_joined"],
    )
    msg_party_left = models.CharField(
        "Party left",
        max_length=CHAT_MESSAGE_MAX_LENGTH,
        default=CHAT_MESSAGE_DEFAULTS["msg_party_left"],
    )
    msg_invitation = models.CharField(
        "Invitation to join",
        max_length=CHAT_MESSAGE_MAX_LENGTH,
        default=CHAT_MESSAGE_DEFAULTS["msg_invitation"],
    )
    msg_positive_response = models.CharField(
        "Positive response",
        max_length=CHAT_MESSAGE_MAX_LENGTH,
        default=CHAT_MESSAGE_DEFAULTS["msg_positive_response"],
    )
    msg_negative_response = models.CharField(
        "Negative response",
        max_length=CHAT_MESSAGE_MAX_LENGTH,
        default=CHAT_MESSAGE_DEFAULTS["msg_negative_response"],
    )
    msg_session_ended = models.CharField(
        "Session ended",
        max_length=CHAT_MESSAGE_MAX_LENGTH,
        default=CHAT_MESSAGE_DEFAULTS["msg_session_ended"],
    )
    msg_leave_command = models.CharField(
        "Leave any time command",
        max_length=CHAT_MESSAGE_MAX_LENGTH,
        default=CHAT_MESSAGE_DEFAULTS["msg_leave_command"],
    )

    # Token health, written by the token refresh job.
    token_cache = EncryptedTextField(blank=True, db_column="token_cache_encrypted")
    token_expires_at = models.DateTimeField(null=True, blank=True)
    token_refreshed_at = models.DateTimeField(null=True, blank=True)
    token_error = models.TextField(blank=True)
    token_error_at = models.DateTimeField(null=True, blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        permissions = [("test_integrationaccount", "Can test the integration account connection")]
        constraints = [
            models.UniqueConstraint(fields=["singleton"], name="one_integration_account"),
            models.CheckConstraint(
                condition=models.Q(singleton=True), name="integration_account_singleton_true"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def has_secret(self) -> bool:
        return bool(self.client_secret)

    @property
    def token_expired(self) -> bool:
        return self.token_expires_at is not None and self.token_expires_at <= timezone.now()

    def missing_credentials(self) -> list[str]:
        """Labels of the fields a token request needs but the account lacks."""
        missing = []
        if not self.tenant.strip():
            missing.append("Directory (tenant) ID")
        if not self.client_id.strip():
            missing.append("Client ID")
        if not self.has_secret:
            missing.append("Client secret")
        return missing

    def chat_messages(self) -> list[tuple[str, str, str, str]]:
        """(field, label, current text, default text) for each chat system message."""
        return [
            (field, label, getattr(self, field), default) for field, label, default in CHAT_MESSAGES
        ]


class ConnectionTest(models.Model):
    """The outcome of one Test connection run, shown on the account page."""

    class Outcome(models.TextChoices):
        PENDING = "pending", "Running"
        PASSED = "passed", "Connected"
        WARNING = "warning", "Connected, permissions missing"
        FAILED = "failed", "Failed"

    account = models.ForeignKey(
        IntegrationAccount, on_delete=models.CASCADE, related_name="connection_tests"
    )
    job = models.OneToOneField(JobRun, null=True, on_delete=models.SET_NULL)
    outcome = models.CharField(max_length=16, choices=Outcome.choices, default=Outcome.PENDING)
    headline = models.CharField(max_length=200, blank=True)
    cause = models.CharField(max_length=32, blank=True)
    detail = models.TextField(blank=True)
    missing_fields = models.JSONField(default=list, blank=True)
    # [{"key", "name", "status", "optional", "message", "groups": [{"names", "granted"}],
    #   "delegated"}], one per feature of graph.permissions.FEATURES.
    features = models.JSONField(default=list, blank=True)
    roles = models.JSONField(default=list, blank=True)
    consent_url = models.URLField(max_length=500, blank=True)
    live_call = models.CharField(max_length=300, blank=True)
    expiry_read = models.DateTimeField(null=True, blank=True)
    # Tested the values on the form, not (all) saved: the stored account was left alone.
    unsaved = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        get_latest_by = "created_at"

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.outcome}"


class ApiKey(models.Model):
    """A key the contact-center platform uses for the JSON API. Only its hash is stored."""

    class Scope(models.TextChoices):
        AGENTS_WRITE = "agents:write", "Upsert business units, teams and agents"
        AGENTS_READ = "agents:read", "Read agents and their mapping"
        EVENTS_WRITE = "events:write", "Send agent state events"
        STATES_WRITE = "states:write", "Upsert the ACD state catalogue"
        DIRECTORY_READ = "directory:read", "Search the Teams directory for experts"
        CHAT_WRITE = "chat:write", "Conference Teams experts into customer chats"
        MAIL_SEND = "mail:send", "Send mail and replies from Office 365 mailboxes"

    name = models.CharField(max_length=100)
    # The first characters of the key, shown so people can tell keys apart.
    prefix = models.CharField(max_length=16, unique=True)
    key_hash = models.CharField(max_length=128)
    scopes = models.JSONField(default=list)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class SetupRun(models.Model):
    """One round of the setup checks (integrations/setup), shown on the setup page."""

    job = models.OneToOneField(JobRun, null=True, on_delete=models.SET_NULL)
    # [{"key", "group", "title", "state", "evidence", "fix"}], in the guides' order.
    checks = models.JSONField(default=list, blank=True)
    # green / amber / red once finished; empty while running.
    state = models.CharField(max_length=8, blank=True)
    nightly = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"setup checks {self.created_at:%Y-%m-%d %H:%M} {self.state or 'running'}"
