"""Expert chat: experts' presence for the agent desktop, the chat service account,
conferences with their transcripts, and the chat-message subscription."""

import uuid

from django.db import models

from accounts.models import Agent, DirectoryUser
from integrations.fields import EncryptedTextField
from presence.sync_models import SystemUser


class ExpertPresence(models.Model):
    """A directory user's Teams presence as last read from Graph for the agent desktop.

    Experts are not agents, so no subscription covers them: the directory API reads
    their presence on demand and keeps it here for a few seconds, so an agent paging
    through the directory does not cost one Graph call per keystroke.
    """

    directory_user = models.OneToOneField(
        DirectoryUser, on_delete=models.CASCADE, related_name="expert_presence"
    )
    availability = models.CharField(max_length=32)
    activity = models.CharField(max_length=32)
    read_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.directory_user}: {self.availability}/{self.activity}"


class ChatServiceAccount(models.Model):
    """The system user ccbridge signs in as to speak in Teams chats (one row at most).

    Graph sends chat messages only for a signed-in user (docs/graph.md, "Permissions
    ccbridge uses"), so conferences are spoken by this account. Its delegated token
    is asked for every scope the app was granted (``.default``) and kept in a cache of
    its own, apart from the presence subscription's, so the two never overwrite each
    other's refresh token.
    """

    singleton = models.BooleanField(default=True, unique=True, editable=False)
    system_user = models.OneToOneField(
        SystemUser, on_delete=models.CASCADE, related_name="chat_service_account"
    )
    # The scopes the last check found in the token, space-separated.
    scopes = models.TextField(blank=True)
    ready = models.BooleanField(default=False)
    status_detail = models.TextField(blank=True)
    checked_at = models.DateTimeField(null=True, blank=True)
    token_cache = EncryptedTextField(blank=True, db_column="token_cache_encrypted")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"chat service account {self.system_user}"


class Conference(models.Model):
    """One Teams expert invited into one customer chat of the contact center."""

    class State(models.TextChoices):
        INVITING = "inviting", "Inviting"
        JOINED = "joined", "Joined"
        DECLINED = "declined", "Declined"
        EXPIRED = "expired", "Invitation expired"
        LEFT = "left", "Expert left"
        ENDED = "ended", "Ended"
        FAILED = "failed", "Failed"

    LIVE_STATES = (State.INVITING, State.JOINED)

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    customer_chat_id = models.CharField(max_length=200)
    customer_name = models.CharField(max_length=200, blank=True)
    agent_external_id = models.CharField(max_length=128)
    agent = models.ForeignKey(
        Agent, null=True, blank=True, on_delete=models.SET_NULL, related_name="conferences"
    )
    expert = models.ForeignKey(
        DirectoryUser, null=True, blank=True, on_delete=models.SET_NULL, related_name="conferences"
    )
    expert_graph_id = models.CharField(max_length=64)
    expert_name = models.CharField(max_length=256)
    # The last customer messages shown to the expert with the invitation: [{author, text}].
    context_messages = models.JSONField(default=list, blank=True)
    insist = models.BooleanField(default=False)
    teams_chat_id = models.CharField(max_length=200, blank=True, db_index=True)
    state = models.CharField(max_length=16, choices=State.choices, default=State.INVITING)
    invited_at = models.DateTimeField(auto_now_add=True)
    invitation_expires_at = models.DateTimeField()
    # When the invitation reached Teams: replies older than this are not answers to it.
    invitation_sent_at = models.DateTimeField(null=True, blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)
    # Events sent to the contact center so far: the next one carries this + 1.
    event_count = models.PositiveIntegerField(default=0)
    # Transcript rows so far: the next one gets this + 1.
    message_count = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-invited_at", "-id"]
        indexes = [models.Index(fields=["state", "invitation_expires_at"])]
        constraints = [
            # One live conference per expert: replies in the one-on-one chat must belong
            # to exactly one customer chat.
            models.UniqueConstraint(
                fields=["expert_graph_id"],
                condition=models.Q(state__in=["inviting", "joined"]),
                name="conference_one_live_per_expert",
            )
        ]

    def __str__(self) -> str:
        return f"conference {self.public_id} ({self.state})"

    @property
    def live(self) -> bool:
        return self.state in self.LIVE_STATES


class ConferenceMessage(models.Model):
    """One line of a conference's transcript, in order (``sequence``)."""

    class Direction(models.TextChoices):
        TO_EXPERT = "to_expert", "To the expert"
        FROM_EXPERT = "from_expert", "From the expert"
        SYSTEM = "system", "System"

    conference = models.ForeignKey(Conference, on_delete=models.CASCADE, related_name="messages")
    sequence = models.PositiveIntegerField()
    direction = models.CharField(max_length=16, choices=Direction.choices)
    author = models.CharField(max_length=256, blank=True)
    text = models.TextField(blank=True)
    # The Teams message this line is (sent or received); one line per Teams message.
    graph_message_id = models.CharField(max_length=64, blank=True)
    hosted_content_urls = models.JSONField(default=list, blank=True)
    # The event this line became for the contact center (its sequence), if any.
    event = models.CharField(max_length=32, blank=True)
    event_sequence = models.PositiveIntegerField(null=True, blank=True)
    delivered = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["conference", "sequence"]
        constraints = [
            models.UniqueConstraint(
                fields=["conference", "sequence"], name="conferencemessage_sequence_unique"
            ),
            models.UniqueConstraint(
                fields=["conference", "graph_message_id"],
                condition=~models.Q(graph_message_id=""),
                name="conferencemessage_graph_id_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.conference_id}#{self.sequence} {self.direction}"


class ChatSubscription(models.Model):
    """The one Graph subscription to the chat service account's chat messages (one row)."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        ACTIVE = "active", "Active"
        FAILED = "failed", "Failed"
        REMOVED = "removed", "Removed by Graph"

    singleton = models.BooleanField(default=True, unique=True, editable=False)
    graph_id = models.CharField(max_length=64, blank=True, db_index=True)
    resource = models.CharField(max_length=300, blank=True)
    # The secret Graph echoes in every notification; compared in constant time.
    client_state = EncryptedTextField(db_column="client_state_encrypted")
    certificate_id = models.CharField(max_length=64, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    expires_at = models.DateTimeField(null=True, blank=True)
    renewed_at = models.DateTimeField(null=True, blank=True)
    last_notification_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    notifications = models.PositiveBigIntegerField(default=0)
    reauthorizations = models.PositiveIntegerField(default=0)
    removals = models.PositiveIntegerField(default=0)
    missed = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"chat subscription {self.graph_id or '(none)'}"
