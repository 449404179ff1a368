"""Directory users, business units, agent teams, agents, the agent ⇄ Teams-user mapping,
and agents CSV uploads awaiting import."""

import uuid

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower

from accounts.matching import HOW_MATCHED


class DirectoryUser(models.Model):
    """A Teams (Entra ID) user as last seen by the directory sync.

    Users removed from the directory are marked, never deleted, so mappings
    and history keep pointing at something a person can recognise.
    """

    class RemovedReason(models.TextChoices):
        CHANGED = "changed", "Removed from scope (soft-deleted)"
        DELETED = "deleted", "Deleted permanently"

    # Unique through Meta.constraints, not unique=True: on PostgreSQL that would add a
    # second, pattern-ops (LIKE) index that no query uses and every sync upsert maintains.
    graph_id = models.CharField(max_length=64)
    display_name = models.CharField(max_length=256, blank=True)
    mail = models.CharField(max_length=320, blank=True)
    user_principal_name = models.CharField(max_length=320, blank=True)
    other_mails = models.JSONField(default=list, blank=True)
    proxy_addresses = models.JSONField(default=list, blank=True)
    business_phones = models.JSONField(default=list, blank=True)
    mobile_phone = models.CharField(max_length=64, blank=True)
    fax_number = models.CharField(max_length=64, blank=True)
    account_enabled = models.BooleanField(default=True)
    job_title = models.CharField(max_length=256, blank=True)
    department = models.CharField(max_length=256, blank=True)
    removed_reason = models.CharField(max_length=16, choices=RemovedReason.choices, blank=True)
    removed_at = models.DateTimeField(null=True, blank=True)
    last_seen_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["display_name", "id"]
        permissions = [("sync_directory", "Can start a directory sync")]
        constraints = [
            models.UniqueConstraint(fields=["graph_id"], name="directoryuser_graph_id_unique")
        ]
        # Only what a query reads; every index here is maintained on each sync upsert.
        # Matching by address runs in Python over the whole directory, and searches are
        # substring matches no B-tree serves.
        indexes = [
            # The directory page's order.
            models.Index(fields=["display_name"]),
            # The few users no longer current, for the mapping screen's status filters.
            # Partial: enabled users, nearly all of them, never enter it.
            models.Index(
                fields=["id"],
                name="directoryuser_not_current",
                condition=models.Q(account_enabled=False) | ~models.Q(removed_reason=""),
            ),
        ]

    def __str__(self) -> str:
        return self.display_name or self.user_principal_name or self.graph_id

    @property
    def is_removed(self) -> bool:
        return bool(self.removed_reason)

    def phone_numbers(self, phone_types: list[str]) -> list[tuple[str, str]]:
        """(phone type, number) pairs of the given types, in that order."""
        numbers = {
            "business": [number for number in self.business_phones or [] if number],
            "mobile": [self.mobile_phone] if self.mobile_phone else [],
            "fax": [self.fax_number] if self.fax_number else [],
        }
        return [(kind, number) for kind in phone_types for number in numbers.get(kind, [])]

    def phones_in_order(self, phone_types: list[str]) -> list[tuple[str, str]]:
        """(type label, number) pairs in the account's phone-type order."""
        labels = {"business": "Business", "mobile": "Mobile", "fax": "Fax"}
        return [(labels[kind], number) for kind, number in self.phone_numbers(phone_types)]


class DirectorySyncState(models.Model):
    """Where the directory sync left off: the delta link, or the page to resume from."""

    singleton = models.BooleanField(default=True, unique=True, editable=False)
    delta_link = models.TextField(blank=True)
    # Set while a run is in progress: the next page to fetch if the worker dies.
    resume_link = models.TextField(blank=True)
    interval_minutes = models.PositiveIntegerField(default=60)
    # Guards against two syncs at once: set while a run is queued or running.
    running_job = models.ForeignKey(
        "integrations.JobRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    last_started_at = models.DateTimeField(null=True, blank=True)
    last_finished_at = models.DateTimeField(null=True, blank=True)
    last_full_sync_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return "directory sync state"


class BusinessUnit(models.Model):
    name = models.CharField(max_length=200, unique=True)
    code = models.SlugField(max_length=64, unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class AgentTeam(models.Model):
    """A contact-center team of agents (not a Microsoft Teams team)."""

    business_unit = models.ForeignKey(BusinessUnit, on_delete=models.CASCADE, related_name="teams")
    name = models.CharField(max_length=200)

    class Meta:
        ordering = ["business_unit__name", "name"]
        constraints = [
            models.UniqueConstraint(fields=["business_unit", "name"], name="unique_team_per_unit")
        ]

    def __str__(self) -> str:
        return self.name


class Agent(models.Model):
    """A contact-center agent, identified by the ACD's external id."""

    external_id = models.CharField(max_length=128, unique=True)
    name = models.CharField(max_length=256)
    email = models.EmailField(max_length=320, blank=True)
    business_unit = models.ForeignKey(BusinessUnit, on_delete=models.PROTECT, related_name="agents")
    teams = models.ManyToManyField(AgentTeam, blank=True, related_name="agents")
    teams_enabled = models.BooleanField("Teams integration enabled", default=True)
    # The last auto-map verdict for an unmapped agent (matching.MatchStatus value),
    # stored so the mapping screen can filter on "ambiguous" without recomputing.
    automap_status = models.CharField(max_length=16, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        indexes = [models.Index(Lower("email"), name="agent_email_lower")]
        permissions = [
            ("map_agents", "Can auto-map, remap and unmap agents"),
            ("import_agents", "Can import agents from a CSV file"),
            ("toggle_teams", "Can enable or disable Teams integration for agents"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.external_id})"


class AgentMapping(models.Model):
    """Which Teams user an agent is. One per agent and one per directory user."""

    class Method(models.TextChoices):
        AUTO = "auto", "Auto-map"
        MANUAL = "manual", "Manual"
        API = "api", "API"

    agent = models.OneToOneField(Agent, on_delete=models.CASCADE, related_name="mapping")
    directory_user = models.OneToOneField(
        DirectoryUser, on_delete=models.PROTECT, related_name="mapping"
    )
    method = models.CharField(max_length=16, choices=Method.choices)
    rule = models.CharField(max_length=32, blank=True)
    reason = models.CharField(max_length=300, blank=True)
    confidence = models.PositiveSmallIntegerField(null=True, blank=True)
    mapped_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    mapped_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.agent} → {self.directory_user}"

    @property
    def how_matched(self) -> str:
        """The matching rule in words; a rule this version does not know, as stored."""
        return HOW_MATCHED.get(self.rule, self.rule)


class AgentImportUpload(models.Model):
    """An agents CSV kept between its preview and its import.

    In the database rather than on a disk, so whichever web process serves the import
    finds the file the preview read. Only its owner may import it, once, before it expires.
    """

    token = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    original_name = models.CharField(max_length=255)
    encoding = models.CharField(max_length=32)
    data = models.BinaryField()
    row_count = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"{self.original_name} ({self.row_count} rows)"
