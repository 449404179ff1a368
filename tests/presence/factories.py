"""Factories for presence rules, their rows, reason codes and assignments."""

import factory

from presence.models import (
    AgentRuleAssignment,
    PresenceRule,
    PublisherRow,
    ReasonCode,
    SubscriberRow,
    TeamRuleAssignment,
)
from tests.accounts.factories import AgentFactory, AgentTeamFactory, BusinessUnitFactory


class ReasonCodeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ReasonCode
        django_get_or_create = ("business_unit", "code")

    business_unit = factory.SubFactory(BusinessUnitFactory)
    code = factory.Sequence(lambda n: f"reason-{n}")
    name = factory.LazyAttribute(lambda reason: reason.code.replace("-", " ").title())


class PresenceRuleFactory(factory.django.DjangoModelFactory):
    """A two-way rule with one row each way: Available ⇄ Available."""

    class Meta:
        model = PresenceRule
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Rule {n}")
    business_unit = factory.SubFactory(BusinessUnitFactory)
    direction = PresenceRule.Direction.BOTH

    @factory.post_generation
    def rows(self, create, extracted, **kwargs):
        if not create or extracted is False:
            return
        PublisherRow.objects.create(
            rule=self,
            position=0,
            acd_state="available",
            action=PublisherRow.Action.SET,
            availability="Available",
            activity="Available",
            session_minutes=240,
        )
        SubscriberRow.objects.create(
            rule=self, position=0, availability="Available", activity="", acd_state="available"
        )


class TeamRuleAssignmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TeamRuleAssignment

    rule = factory.SubFactory(PresenceRuleFactory)
    team = factory.SubFactory(
        AgentTeamFactory, business_unit=factory.SelfAttribute("..rule.business_unit")
    )
    priority = None


class AgentRuleAssignmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AgentRuleAssignment

    rule = factory.SubFactory(PresenceRuleFactory)
    agent = factory.SubFactory(
        AgentFactory, business_unit=factory.SelfAttribute("..rule.business_unit")
    )
