"""Factories for presence rules, their rows, reason codes and assignments, and for
system users, certificates, subscriptions, agent presence and events, sync history,
the ACD endpoint and ACD deliveries."""

import uuid
from datetime import timedelta

import factory
from django.utils import timezone

from presence.models import (
    AgentRuleAssignment,
    PresenceRule,
    PublisherRow,
    ReasonCode,
    SubscriberRow,
    TeamRuleAssignment,
)
from presence.sync_models import (
    AcdDelivery,
    AcdEndpoint,
    AgentEvent,
    AgentPresence,
    NotificationCertificate,
    Subscription,
    SyncRecord,
    SystemUser,
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


class SystemUserFactory(factory.django.DjangoModelFactory):
    """A system user that signed in (status OK); the model field encrypts its password."""

    class Meta:
        model = SystemUser

    username = factory.Sequence(lambda n: f"ccbridge_presence_{n}@contoso.onmicrosoft.com")
    password = "Factory-Passw0rd!"
    status = SystemUser.Status.OK


class SubscriptionFactory(factory.django.DjangoModelFactory):
    """An active subscription, 50 minutes from expiry."""

    class Meta:
        model = Subscription

    system_user = factory.SubFactory(SystemUserFactory)
    graph_id = factory.LazyFunction(lambda: str(uuid.uuid4()))
    status = Subscription.Status.ACTIVE
    client_state = "client-state"
    expires_at = factory.LazyFunction(lambda: timezone.now() + timedelta(minutes=50))


class AcdDeliveryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AcdDelivery

    payload = factory.LazyFunction(lambda: {"event": "teams.presence"})
    status = AcdDelivery.Status.DELIVERED
    attempts = 1


class NotificationCertificateFactory(factory.django.DjangoModelFactory):
    """A certificate row (not a usable key pair: tests that decrypt use certificate_active())."""

    class Meta:
        model = NotificationCertificate

    certificate_id = factory.Sequence(lambda n: f"certificate-{n}")
    certificate_pem = "-----BEGIN CERTIFICATE-----"
    private_key = "-----BEGIN PRIVATE KEY-----"
    thumbprint = factory.Sequence(lambda n: f"{n:040x}")
    expires_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=365))


class AcdEndpointFactory(factory.django.DjangoModelFactory):
    """The one ACD webhook, with its signing secret (encrypted by the model field)."""

    class Meta:
        model = AcdEndpoint

    url = "https://acd.contact-center.example/teams-presence"
    secret = "acd-signing-secret"
    enabled = True


class AgentPresenceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AgentPresence

    agent = factory.SubFactory(AgentFactory)


class AgentEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AgentEvent

    agent = factory.SubFactory(AgentFactory)
    sequence = factory.Sequence(lambda n: n + 1)
    state = "available"
    occurred_at = factory.LazyFunction(timezone.now)


class SyncRecordFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SyncRecord

    agent = factory.SubFactory(AgentFactory)
    direction = SyncRecord.Direction.TO_TEAMS
    outcome = SyncRecord.Outcome.APPLIED
