"""Presence sync state: system users, subscriptions, agent presence, history, ACD delivery.

Imported by presence/models.py so Django sees these models; kept apart from
the rule models to keep each module readable.
"""

from django.db import models

from accounts.models import Agent, AgentMapping, DirectoryUser
from integrations.fields import EncryptedTextField


class SystemUser(models.Model):
    """A Teams account whose delegated token owns one presence subscription.

    Graph offers presence subscriptions only to a signed-in user, so the
    console keeps a pool of these. The password is encrypted at rest.
    """

    class Status(models.TextChoices):
        UNCHECKED = "unchecked", "Not checked yet"
        OK = "ok", "Signed in"
        MFA_REQUIRED = "mfa_required", "MFA required"
        WRONG_PASSWORD = "wrong_password", "Wrong password"
        FAILED = "failed", "Sign-in failed"

    username = models.CharField(max_length=320, unique=True)
    password = EncryptedTextField(db_column="password_encrypted")
    graph_id = models.CharField(max_length=64, blank=True)
    created_in_azure = models.BooleanField(default=False)
    enabled = models.BooleanField(default=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.UNCHECKED)
    status_detail = models.TextField(blank=True)
    checked_at = models.DateTimeField(null=True, blank=True)
    token_cache = EncryptedTextField(blank=True, db_column="token_cache_encrypted")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["username"]

    def __str__(self) -> str:
        return self.username


class NotificationCertificate(models.Model):
    """The RSA key pair Graph encrypts rich notifications with. One is active at a time."""

    certificate_id = models.CharField(max_length=64, unique=True)
    certificate_pem = models.TextField()
    private_key = EncryptedTextField(db_column="private_key_encrypted")
    thumbprint = models.CharField(max_length=64)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"certificate {self.certificate_id}"


class Subscription(models.Model):
    """One Graph presence subscription (≤ 650 users, ≤ 60 minutes), owned by a system user."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        ACTIVE = "active", "Active"
        FAILED = "failed", "Failed"
        REMOVED = "removed", "Removed by Graph"

    system_user = models.OneToOneField(
        SystemUser, on_delete=models.PROTECT, related_name="subscription"
    )
    graph_id = models.CharField(max_length=64, blank=True, db_index=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    # The secret Graph echoes back in every notification; compared in constant time.
    client_state = EncryptedTextField(db_column="client_state_encrypted")
    certificate = models.ForeignKey(
        NotificationCertificate, null=True, blank=True, on_delete=models.SET_NULL
    )
    expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    renewed_at = models.DateTimeField(null=True, blank=True)
    last_notification_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    # The watched users as Graph knows them; changed only when the plan changes.
    members = models.ManyToManyField(DirectoryUser, blank=True, related_name="subscriptions")

    def __str__(self) -> str:
        return f"subscription of {self.system_user}"


class AgentPresence(models.Model):
    """Both sides of one agent's presence, as last seen by the console."""

    agent = models.OneToOneField(Agent, on_delete=models.CASCADE, related_name="presence")
    acd_state = models.CharField(max_length=16, blank=True)
    acd_reason = models.CharField(max_length=64, blank=True)
    acd_sequence = models.BigIntegerField(null=True, blank=True)
    acd_changed_at = models.DateTimeField(null=True, blank=True)
    teams_availability = models.CharField(max_length=32, blank=True)
    teams_activity = models.CharField(max_length=32, blank=True)
    teams_sequence = models.CharField(max_length=40, blank=True)
    teams_changed_at = models.DateTimeField(null=True, blank=True)
    # The mapping the Teams presence above was seen under. Another one, or none, makes the
    # next presence the first of the agent's current Teams user: neither comparable with
    # the sequence above nor, unless the rule says so, a change to send to the ACD.
    teams_mapping = models.ForeignKey(
        AgentMapping, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # What the console last asked Teams for, and until when that session lasts.
    published_availability = models.CharField(max_length=32, blank=True)
    published_activity = models.CharField(max_length=32, blank=True)
    session_expires_at = models.DateTimeField(null=True, blank=True)
    manual_in_teams = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.agent}: {self.acd_state} / {self.teams_availability}"


class AgentEvent(models.Model):
    """An ACD state event as received; (agent, sequence) is unique, so replays are harmless."""

    class Interaction(models.TextChoices):
        NONE = "none", "None"
        CUSTOMER = "customer", "Customer"
        INTERNAL = "internal", "Internal (agent to agent)"

    agent = models.ForeignKey(Agent, on_delete=models.CASCADE, related_name="events")
    sequence = models.BigIntegerField()
    state = models.CharField(max_length=16)
    reason_code = models.CharField(max_length=64, blank=True)
    interaction = models.CharField(
        max_length=16, choices=Interaction.choices, default=Interaction.NONE
    )
    occurred_at = models.DateTimeField()
    received_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["agent", "sequence"], name="one_event_per_sequence")
        ]

    def __str__(self) -> str:
        return f"{self.agent} #{self.sequence} {self.state}"


class SyncRecord(models.Model):
    """One step of presence sync for an agent: the history the console shows."""

    class Direction(models.TextChoices):
        TO_TEAMS = "to_teams", "Contact center → Teams"
        TO_ACD = "to_acd", "Teams → contact center"

    class Outcome(models.TextChoices):
        APPLIED = "applied", "Applied"
        SKIPPED_INTERNAL = "skipped_internal", "Skipped: internal call"
        SKIPPED_MANUAL = "skipped_manual", "Skipped: manual status in Teams"
        SKIPPED_NO_RULE = "skipped_no_rule", "Skipped: no rule"
        SKIPPED_STALE = "skipped_stale", "Skipped: older than the last event"
        SKIPPED_ECHO = "skipped_echo", "Skipped: Teams shows what the console set"
        SKIPPED_NEW_MAPPING = "skipped_new_mapping", "Skipped: first presence after mapping"
        FAILED = "failed", "Failed"

    agent = models.ForeignKey(Agent, on_delete=models.CASCADE, related_name="sync_records")
    direction = models.CharField(max_length=16, choices=Direction.choices)
    from_value = models.CharField(max_length=100, blank=True)
    to_value = models.CharField(max_length=100, blank=True)
    rule_name = models.CharField(max_length=100, blank=True)
    row_index = models.PositiveSmallIntegerField(null=True, blank=True)
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    outcome = models.CharField(max_length=24, choices=Outcome.choices)
    detail = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["agent", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.agent} {self.direction} {self.outcome}"


class AcdEndpoint(models.Model):
    """Where Teams-side changes are delivered: the contact center's webhook (one row)."""

    singleton = models.BooleanField(default=True, unique=True, editable=False)
    url = models.URLField(max_length=500, blank=True)
    secret = EncryptedTextField(blank=True, db_column="secret_encrypted")
    enabled = models.BooleanField(default=True)

    def __str__(self) -> str:
        return self.url or "ACD webhook (not set)"


class AcdDelivery(models.Model):
    """One signed POST to the ACD webhook, retried with backoff; dead ones can be replayed."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        DELIVERED = "delivered", "Delivered"
        DEAD = "dead", "Dead letter"

    agent = models.ForeignKey(Agent, null=True, on_delete=models.SET_NULL)
    payload = models.JSONField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.CharField(max_length=500, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "next_attempt_at"])]

    def __str__(self) -> str:
        return f"delivery #{self.pk} {self.status}"


class WebhookCounter(models.Model):
    """How many notifications the webhook accepted or rejected, by reason."""

    name = models.CharField(max_length=64, unique=True)
    count = models.BigIntegerField(default=0)
    last_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.name}: {self.count}"


__all__ = [
    "AcdDelivery",
    "AcdEndpoint",
    "AgentEvent",
    "AgentPresence",
    "NotificationCertificate",
    "Subscription",
    "SyncRecord",
    "SystemUser",
    "WebhookCounter",
]
