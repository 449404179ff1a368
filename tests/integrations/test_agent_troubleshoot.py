"""Why isn't presence syncing? One test per link of the chain: a healthy agent, then
each link broken in turn, as the supervisor reads it on the agent's page."""

import pytest
from django.urls import reverse

from accounts.models import Agent
from integrations.models import IntegrationAccount
from presence.sync_models import AcdDelivery, AgentPresence, Subscription, SystemUser
from tests.accounts.factories import AgentMappingFactory, AgentTeamFactory
from tests.integrations.factories import IntegrationAccountFactory
from tests.presence.factories import (
    AcdDeliveryFactory,
    AcdEndpointFactory,
    AgentRuleAssignmentFactory,
    SubscriptionFactory,
    TeamRuleAssignmentFactory,
)


@pytest.fixture
def agent(db):
    """An agent whose every link works: mapped, enabled, a rule, watched, deliverable."""
    IntegrationAccountFactory()
    AcdEndpointFactory()
    assignment = AgentRuleAssignmentFactory(rule__name="Voice rule")
    mapping = AgentMappingFactory(agent=assignment.agent, directory_user__display_name="Avery")
    subscription = SubscriptionFactory()
    subscription.members.add(mapping.directory_user)
    return assignment.agent


def _verdict(client, agent) -> tuple[str, str]:
    response = client.get(reverse("integrations:agent_troubleshoot", args=[agent.pk]))
    assert response.status_code == 200
    page = response.content.decode()
    broken = page.split('data-broken="', 1)[1].split('"', 1)[0]
    return broken, page


def test_a_healthy_agent_has_no_broken_link(supervisor_client, agent):
    broken, page = _verdict(supervisor_client, agent)
    assert broken == ""
    assert "Every link works" in page
    assert "Mapped to Avery." in page


def test_the_agent_page_links_to_the_diagnosis(supervisor_client, agent):
    page = supervisor_client.get(reverse("presence:agent_rule", args=[agent.pk])).content.decode()
    assert reverse("integrations:agent_troubleshoot", args=[agent.pk]) in page
    assert "Why isn't presence syncing?" in page


def test_not_mapped(supervisor_client, agent):
    agent.mapping.delete()
    broken, page = _verdict(supervisor_client, agent)
    assert broken == "mapped"
    assert "Mapping page" in page


def test_teams_integration_disabled(supervisor_client, agent):
    Agent.objects.filter(pk=agent.pk).update(teams_enabled=False)
    assert _verdict(supervisor_client, agent)[0] == "enabled"


def test_no_effective_rule(supervisor_client, agent):
    agent.rule_assignment.delete()
    broken, page = _verdict(supervisor_client, agent)
    assert broken == "rule"
    assert "No rule applies." in page


def test_a_rule_conflict_names_the_teams(supervisor_client, agent):
    agent.rule_assignment.delete()
    unit = agent.business_unit
    first = TeamRuleAssignmentFactory(
        rule__business_unit=unit, team=AgentTeamFactory(name="Sales", business_unit=unit)
    )
    second = TeamRuleAssignmentFactory(
        rule__business_unit=unit, team=AgentTeamFactory(name="Support", business_unit=unit)
    )
    agent.teams.set([first.team, second.team])
    broken, page = _verdict(supervisor_client, agent)
    assert broken == "rule"
    assert "Sales, Support" in page


def test_manual_status_in_teams(supervisor_client, agent):
    AgentPresence.objects.create(agent=agent, manual_in_teams=True)
    broken, page = _verdict(supervisor_client, agent)
    assert broken == "manual"
    assert "Reset status" in page


def test_no_subscription_covers_the_agent(supervisor_client, agent):
    Subscription.objects.get().members.clear()
    assert _verdict(supervisor_client, agent)[0] == "subscription"


def test_its_subscription_is_failing(supervisor_client, agent):
    Subscription.objects.update(status=Subscription.Status.FAILED, last_error="Graph said 403")
    broken, page = _verdict(supervisor_client, agent)
    assert broken == "subscription"
    assert "Graph said 403" in page


def test_the_app_token_is_failing(supervisor_client, agent):
    IntegrationAccount.objects.update(token_error="The client secret has expired (AADSTS7000222).")
    broken, page = _verdict(supervisor_client, agent)
    assert broken == "credentials"
    assert "AADSTS7000222" in page


def test_the_system_user_cannot_sign_in(supervisor_client, agent):
    SystemUser.objects.update(status=SystemUser.Status.MFA_REQUIRED, status_detail="MFA demanded")
    broken, page = _verdict(supervisor_client, agent)
    assert broken == "credentials"
    assert "MFA demanded" in page


def test_acd_deliveries_dead_lettered(supervisor_client, agent):
    AcdDeliveryFactory(agent=agent, status=AcdDelivery.Status.DEAD, last_error="HTTP 500")
    broken, page = _verdict(supervisor_client, agent)
    assert broken == "acd_webhook"
    assert "HTTP 500" in page
