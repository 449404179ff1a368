"""Office 365 mailboxes, how ccbridge signs in to each, and their tests."""

import uuid

from django.db import models
from django.utils import timezone

from accounts.models import BusinessUnit
from integrations.fields import EncryptedTextField
from integrations.models import JobRun

# An administrator may add at most this many mailboxes (the product's limit).
MAILBOX_LIMIT = 100


class Mailbox(models.Model):
    """One Exchange Online mailbox the contact center receives and sends mail through.

    "Without a user" signs in with client credentials: the Teams integration
    account's app, or a separate single-tenant app whose secret is stored here
    (encrypted, never shown). "On behalf of a user" keeps the refresh token of the
    one interactive sign-in, encrypted in ``token_cache``.
    """

    class AccessType(models.TextChoices):
        APP = "app", "Without a user"
        DELEGATED = "delegated", "On behalf of a user"

    class AppSource(models.TextChoices):
        TEAMS_ACCOUNT = "teams_account", "The Teams integration account's app"
        SEPARATE = "separate", "A separate app registration"

    class TokenState(models.TextChoices):
        UNKNOWN = "unknown", "Not signed in yet"
        OK = "ok", "Working"
        FAILED = "failed", "Failing"
        SIGN_IN_NEEDED = "sign_in_needed", "Sign in again"

    address = models.EmailField("Address", max_length=254, unique=True)
    display_name = models.CharField("Display name", max_length=200)
    business_unit = models.ForeignKey(
        BusinessUnit, null=True, blank=True, on_delete=models.SET_NULL, related_name="mailboxes"
    )
    access_type = models.CharField(
        "Access type", max_length=16, choices=AccessType.choices, default=AccessType.APP
    )
    app_source = models.CharField(
        "App", max_length=16, choices=AppSource.choices, default=AppSource.TEAMS_ACCOUNT
    )
    # A separate app registration (app_source = separate).
    tenant = models.CharField("Directory (tenant) ID", max_length=253, blank=True)
    client_id = models.CharField("Client ID", max_length=36, blank=True)
    client_secret = EncryptedTextField(blank=True, db_column="client_secret_encrypted")
    secret_expires_at = models.DateTimeField("Secret expires at", null=True, blank=True)
    # On behalf of a user: who signed in (their UPN), once they have.
    signed_in_as = models.CharField(max_length=254, blank=True)
    # MSAL's token cache (app token, or the user's refresh token): tokens in clear
    # text inside, so encrypted at rest.
    token_cache = EncryptedTextField(blank=True, db_column="token_cache_encrypted")
    token_state = models.CharField(
        max_length=16, choices=TokenState.choices, default=TokenState.UNKNOWN
    )
    token_expires_at = models.DateTimeField(null=True, blank=True)
    # Another mailbox the access-policy check tries to read; empty: the directory's
    # first user other than this mailbox.
    policy_probe_address = models.EmailField("Policy check mailbox", max_length=254, blank=True)
    # Where processed messages go; empty: they stay in the inbox, marked read.
    move_to_folder_id = models.CharField(max_length=300, blank=True)
    move_to_folder_name = models.CharField("Move processed mail to", max_length=200, blank=True)
    enabled = models.BooleanField(default=True)
    # Where the next inbox delta round starts; empty: from the beginning.
    delta_link = models.TextField(blank=True)
    caught_up_at = models.DateTimeField(null=True, blank=True)
    last_message_in_at = models.DateTimeField(null=True, blank=True)
    last_message_out_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["address"]
        permissions = [("test_mailbox", "Can test a mailbox")]

    def __str__(self) -> str:
        return self.address

    @property
    def uses_separate_app(self) -> bool:
        return (
            self.access_type == self.AccessType.APP and self.app_source == self.AppSource.SEPARATE
        )

    @property
    def has_secret(self) -> bool:
        return bool(self.client_secret)

    @property
    def health(self) -> str:
        """ "ok", "warning" or "failed": what the list's colour says."""
        if self.token_state in (self.TokenState.FAILED, self.TokenState.SIGN_IN_NEEDED):
            return "failed"
        if self.last_error or not self.enabled or self.token_state == self.TokenState.UNKNOWN:
            return "warning"
        return "ok"

    def secret_expired(self, now=None) -> bool:
        now = now or timezone.now()
        return (
            self.uses_separate_app
            and bool(self.secret_expires_at)
            and self.secret_expires_at <= now
        )


class MailboxTest(models.Model):
    """The outcome of one Test mailbox run: one row per step, shown on the mailbox page."""

    class Outcome(models.TextChoices):
        PENDING = "pending", "Running"
        PASSED = "passed", "Passed"
        WARNING = "warning", "Passed with warnings"
        FAILED = "failed", "Failed"

    mailbox = models.ForeignKey(Mailbox, on_delete=models.CASCADE, related_name="tests")
    job = models.OneToOneField(JobRun, null=True, on_delete=models.SET_NULL)
    outcome = models.CharField(max_length=16, choices=Outcome.choices, default=Outcome.PENDING)
    headline = models.CharField(max_length=200, blank=True)
    # [{"key", "name", "status": passed|warning|failed|skipped, "detail", "commands": [...]}]
    steps = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.mailbox} test {self.created_at:%Y-%m-%d %H:%M} ({self.outcome})"


class MailboxMessage(models.Model):
    """One message in or out of a mailbox: metadata only (never the body), so the log
    can be shown and a message delivered to the contact center exactly once."""

    class Direction(models.TextChoices):
        IN = "in", "Received"
        OUT = "out", "Sent"

    class State(models.TextChoices):
        DELIVERED = "delivered", "Handed to the contact center"
        QUEUED = "queued", "Queued"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    mailbox = models.ForeignKey(Mailbox, on_delete=models.CASCADE, related_name="messages")
    direction = models.CharField(max_length=8, choices=Direction.choices)
    # What the API answers for a message it was asked to send.
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    # The key a message is known by: it survives moves (Graph gives a moved message a new id).
    internet_message_id = models.CharField(max_length=500)
    graph_message_id = models.CharField(max_length=500, blank=True)
    conversation_id = models.CharField(max_length=500, blank=True)
    subject = models.CharField(max_length=500, blank=True)
    sender = models.CharField(max_length=254, blank=True)
    recipients = models.JSONField(default=list, blank=True)
    attachment_count = models.PositiveSmallIntegerField(default=0)
    received_at = models.DateTimeField(null=True, blank=True)
    state = models.CharField(max_length=16, choices=State.choices, default=State.DELIVERED)
    error = models.TextField(blank=True)
    acd_delivery_id = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["mailbox", "internet_message_id"],
                condition=models.Q(direction="in"),
                name="mailboxmessage_received_once",
            )
        ]

    def __str__(self) -> str:
        return f"{self.direction} {self.internet_message_id}"
