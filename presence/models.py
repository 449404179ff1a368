"""Presence rules: ACD states, rules with rows in both directions, and their assignment."""

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from accounts.models import Agent, AgentTeam, BusinessUnit


class AcdState(models.TextChoices):
    """The standard contact-center states every business unit has."""

    AVAILABLE = "available", "Available"
    UNAVAILABLE = "unavailable", "Unavailable"
    WORKING = "working", "Working (on a call)"
    WRAP_UP = "wrap_up", "Wrap-up"
    LOGGED_OUT = "logged_out", "Logged out"


class ReasonCode(models.Model):
    """An unavailable reason code of a business unit (Break, Lunch, Training, …)."""

    business_unit = models.ForeignKey(
        BusinessUnit, on_delete=models.CASCADE, related_name="reason_codes"
    )
    code = models.SlugField(max_length=64)
    name = models.CharField(max_length=100)

    class Meta:
        ordering = ["business_unit__name", "name"]
        constraints = [
            models.UniqueConstraint(fields=["business_unit", "code"], name="unique_reason_per_unit")
        ]

    def __str__(self) -> str:
        return self.name


class PresenceRule(models.Model):
    class Direction(models.TextChoices):
        # Stored values keep their first names ("publisher", "subscriber"); rows and
        # migrations hold them.
        TO_TEAMS = "publisher", "Contact center → Teams"
        TO_ACD = "subscriber", "Teams → contact center"
        BOTH = "both", "Both directions"

    class OnMapping(models.TextChoices):
        """What the first Teams presence seen for a newly mapped agent does to the ACD.

        Mapping is an admin's bookkeeping, not the agent doing something: by default the
        first presence is only recorded, or mapping a unit of agents whose Teams shows
        Offline would log every one of them out of the ACD at once.
        """

        KEEP = "keep", "Keep the ACD state until the Teams presence changes"
        APPLY = "apply", "Apply the first Teams presence to the ACD"

    name = models.CharField(max_length=100)
    business_unit = models.ForeignKey(
        BusinessUnit, on_delete=models.CASCADE, related_name="presence_rules"
    )
    direction = models.CharField(max_length=16, choices=Direction.choices, default=Direction.BOTH)
    on_mapping = models.CharField(
        "when an agent is mapped", max_length=8, choices=OnMapping.choices, default=OnMapping.KEEP
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["business_unit__name", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["business_unit", "name"], name="unique_rule_name_per_unit"
            )
        ]
        permissions = [("assign_presencerule", "Can assign presence rules to teams and agents")]

    def __str__(self) -> str:
        return self.name


class PublisherRow(models.Model):
    """ACD state (optionally a reason code) → a Teams action."""

    class Action(models.TextChoices):
        SET = "set", "Set presence"
        CLEAR = "clear", "Clear presence"

    rule = models.ForeignKey(PresenceRule, on_delete=models.CASCADE, related_name="publisher_rows")
    position = models.PositiveSmallIntegerField(default=0)
    acd_state = models.CharField(max_length=16, choices=AcdState.choices)
    reason_code = models.ForeignKey(ReasonCode, null=True, blank=True, on_delete=models.PROTECT)
    action = models.CharField(max_length=8, choices=Action.choices, default=Action.SET)
    availability = models.CharField(max_length=32, blank=True)
    activity = models.CharField(max_length=32, blank=True)
    session_minutes = models.PositiveSmallIntegerField(
        default=240, validators=[MinValueValidator(5), MaxValueValidator(240)]
    )

    class Meta:
        ordering = ["rule", "position", "id"]

    def __str__(self) -> str:
        return f"{self.acd_state} → {self.availability}/{self.activity}"


class SubscriberRow(models.Model):
    """A Teams availability (optionally an activity; empty = any) → an ACD state."""

    rule = models.ForeignKey(PresenceRule, on_delete=models.CASCADE, related_name="subscriber_rows")
    position = models.PositiveSmallIntegerField(default=0)
    availability = models.CharField(max_length=32)
    activity = models.CharField(max_length=32, blank=True)
    acd_state = models.CharField(max_length=16, choices=AcdState.choices)
    reason_code = models.ForeignKey(ReasonCode, null=True, blank=True, on_delete=models.PROTECT)

    class Meta:
        ordering = ["rule", "position", "id"]

    def __str__(self) -> str:
        return f"{self.availability}/{self.activity or '*'} → {self.acd_state}"


class TeamRuleAssignment(models.Model):
    """An agent team's rule. Priority (lower wins) settles agents in several teams."""

    team = models.OneToOneField(AgentTeam, on_delete=models.CASCADE, related_name="rule_assignment")
    rule = models.ForeignKey(
        PresenceRule, on_delete=models.PROTECT, related_name="team_assignments"
    )
    priority = models.PositiveSmallIntegerField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.team} → {self.rule}"


class AgentRuleAssignment(models.Model):
    """An agent's own rule: it wins over any team's."""

    agent = models.OneToOneField(Agent, on_delete=models.CASCADE, related_name="rule_assignment")
    rule = models.ForeignKey(
        PresenceRule, on_delete=models.PROTECT, related_name="agent_assignments"
    )

    def __str__(self) -> str:
        return f"{self.agent} → {self.rule}"


# The sync engine's models live in their own module; import them so Django registers them.
from presence.sync_models import *  # noqa: E402, F403
