"""Factories for business units, agent teams, agents, directory users and mappings.

Agents and directory users are named so that they never match each other by
accident (agents are "Agent N" at contact-center.example, users "Person N" at
contoso.example): a test that wants a match says so.
"""

import uuid

import factory

from accounts.models import Agent, AgentMapping, AgentTeam, BusinessUnit, DirectoryUser


class BusinessUnitFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = BusinessUnit
        django_get_or_create = ("code",)

    name = factory.Sequence(lambda n: f"Unit {n}")
    code = factory.Sequence(lambda n: f"unit-{n}")


class AgentTeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AgentTeam

    business_unit = factory.SubFactory(BusinessUnitFactory)
    name = factory.Sequence(lambda n: f"Team {n}")


class AgentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Agent
        skip_postgeneration_save = True

    external_id = factory.Sequence(lambda n: f"ACD-{n:05d}")
    name = factory.Sequence(lambda n: f"Agent {n}")
    email = factory.Sequence(lambda n: f"agent{n}@contact-center.example")
    business_unit = factory.SubFactory(BusinessUnitFactory)

    @factory.post_generation
    def teams(self, create, extracted, **kwargs):
        if create and extracted:
            self.teams.set(extracted)


class DirectoryUserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = DirectoryUser

    graph_id = factory.LazyFunction(lambda: str(uuid.uuid4()))
    display_name = factory.Sequence(lambda n: f"Person {n}")
    mail = factory.Sequence(lambda n: f"person{n}@contoso.example")
    user_principal_name = factory.Sequence(lambda n: f"person{n}@contoso.onmicrosoft.com")
    other_mails = factory.LazyFunction(list)
    proxy_addresses = factory.LazyAttribute(lambda user: [f"SMTP:{user.mail}"] if user.mail else [])
    account_enabled = True


class AgentMappingFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AgentMapping

    agent = factory.SubFactory(AgentFactory)
    directory_user = factory.SubFactory(DirectoryUserFactory)
    method = AgentMapping.Method.MANUAL
    reason = "Chosen by hand"
