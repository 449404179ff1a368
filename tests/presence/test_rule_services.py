"""The presence services the screens call: saving a rule (validated by the core, all
rows in one transaction), deleting, assigning exact sets within one business unit,
and the effective rule of one agent or many."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from integrations.models import AuditEntry
from presence.models import AgentRuleAssignment, PresenceRule, TeamRuleAssignment
from presence.rules import core
from presence.rules.services import (
    AssignmentError,
    PublisherRowInput,
    RuleInUse,
    RuleInvalid,
    SubscriberRowInput,
    agent_effective_rule,
    agent_rule_set,
    effective_rules,
    reason_code_upsert,
    rule_assign_agents,
    rule_assign_teams,
    rule_delete,
    rule_save,
    rule_spec,
    team_rule_set,
)
from tests.accounts.factories import AgentFactory, AgentTeamFactory
from tests.presence.factories import (
    AgentRuleAssignmentFactory,
    PresenceRuleFactory,
    TeamRuleAssignmentFactory,
)

AVAILABLE = PublisherRowInput("available", None, "set", "Available", "Available", 240)
ON_A_CALL = PublisherRowInput("working", None, "set", "Busy", "InACall", 60)
LUNCH = PublisherRowInput("unavailable", "lunch", "clear")
DND = SubscriberRowInput("DoNotDisturb", None, "unavailable")
MEETING = SubscriberRowInput("Busy", "InAMeeting", "unavailable", "meeting")


def save(unit, *, name="Voice agents", direction="both", pub=(AVAILABLE,), sub=(DND,), rule=None):
    return rule_save(
        actor=None,
        business_unit=unit,
        name=name,
        direction=direction,
        publisher_rows=list(pub),
        subscriber_rows=list(sub),
        rule=rule,
    )


def test_a_saved_rule_reads_back_as_the_spec_it_was_saved_from(unit):
    rule = save(unit, pub=[ON_A_CALL, LUNCH, AVAILABLE], sub=[MEETING, DND])
    assert rule_spec(rule) == core.RuleSpec(
        "Voice agents",
        core.Direction.BOTH,
        publisher_rows=(
            core.PublisherRow(
                core.AcdState.WORKING, None, core.SetPresence("Busy", "InACall", timedelta(hours=1))
            ),
            core.PublisherRow(core.AcdState.UNAVAILABLE, "lunch", core.ClearPresence()),
            core.PublisherRow(
                core.AcdState.AVAILABLE,
                None,
                core.SetPresence("Available", "Available", timedelta(hours=4)),
            ),
        ),
        subscriber_rows=(
            core.SubscriberRow("Busy", "InAMeeting", core.AcdState.UNAVAILABLE, "meeting"),
            core.SubscriberRow("DoNotDisturb", None, core.AcdState.UNAVAILABLE, None),
        ),
    )
    assert AuditEntry.objects.filter(action="rule.create", target_id=str(rule.pk)).exists()


def test_the_rule_and_all_its_rows_are_written_in_one_transaction(unit):
    rule = save(unit)
    with CaptureQueriesContext(connection) as queries:
        save(unit, pub=[ON_A_CALL, AVAILABLE], sub=[MEETING, DND], rule=rule)
    statements = [q["sql"].split()[0].upper() for q in queries.captured_queries]
    writes = [i for i, verb in enumerate(statements) if verb in ("INSERT", "UPDATE", "DELETE")]
    # Inside the test's own transaction, rule_save's atomic block is one savepoint.
    assert statements[0] == "SAVEPOINT"
    assert statements[-1] == "RELEASE"
    assert statements.count("SAVEPOINT") == 1
    assert writes and writes[0] > 0 and writes[-1] < len(statements) - 1


def test_an_invalid_rule_saves_nothing_and_keeps_the_old_rows(unit):
    rule = save(unit)
    before = list(rule.publisher_rows.values_list("pk", flat=True))
    unsettable = PublisherRowInput("wrap_up", None, "set", "Busy", "Busy", 60)
    with pytest.raises(RuleInvalid) as caught:
        save(unit, name="Renamed", pub=[ON_A_CALL, unsettable], rule=rule)

    assert [(p.field, p.row) for p in caught.value.problems] == [("publisher_rows[1].action", 1)]
    rule.refresh_from_db()
    assert rule.name == "Voice agents"
    assert list(rule.publisher_rows.values_list("pk", flat=True)) == before


def test_unknown_states_and_directions_are_problems_not_crashes(unit):
    # A crafted form post: the core reports these; converting them must not raise ValueError.
    with pytest.raises(RuleInvalid) as caught:
        save(
            unit,
            direction="sideways",
            pub=[PublisherRowInput("napping", None, "clear")],
            sub=[SubscriberRowInput("Away", None, "asleep")],
        )
    fields = [problem.field for problem in caught.value.problems]
    assert "direction" in fields
    assert "publisher_rows[0].acd_state" in fields
    assert "subscriber_rows[0].acd_state" in fields
    assert not PresenceRule.objects.exists()


def test_a_name_longer_than_the_column_is_a_problem_not_a_database_error(unit):
    with pytest.raises(RuleInvalid) as caught:
        save(unit, name="x" * 101)
    assert [p.message for p in caught.value.problems] == [
        "Keep the name to 100 characters or fewer."
    ]
    save(unit, name="x" * 100)
    assert PresenceRule.objects.get().name == "x" * 100


def test_a_rule_in_use_names_its_teams_and_agents(unit):
    rule = save(unit)
    TeamRuleAssignmentFactory(rule=rule, team=AgentTeamFactory(business_unit=unit, name="Sales"))
    AgentRuleAssignmentFactory(rule=rule, agent=AgentFactory(business_unit=unit, name="Ann Lee"))
    with pytest.raises(RuleInUse) as caught:
        rule_delete(actor=None, rule=rule)
    assert str(caught.value) == (
        "Voice agents is assigned to teams Sales and 1 agents (Ann Lee). Unassign it first."
    )
    assert PresenceRule.objects.filter(pk=rule.pk).exists()


def test_assigning_teams_sets_exactly_that_set(unit):
    rule = PresenceRuleFactory(business_unit=unit)
    other = PresenceRuleFactory(business_unit=unit)
    sales, support, billing = (AgentTeamFactory(business_unit=unit) for _ in range(3))
    TeamRuleAssignmentFactory(rule=other, team=billing, priority=4)
    rule_assign_teams(actor=None, rule=rule, team_ids=[sales.pk, support.pk])
    rule_assign_teams(actor=None, rule=rule, team_ids=[support.pk, billing.pk])

    assert set(rule.team_assignments.values_list("team_id", flat=True)) == {support.pk, billing.pk}
    assert not TeamRuleAssignment.objects.filter(team=sales).exists()
    # A team moved from another rule keeps its priority until someone changes it.
    assert TeamRuleAssignment.objects.get(team=billing).priority == 4


def test_assignments_never_cross_business_units(unit, other_unit):
    rule = PresenceRuleFactory(business_unit=unit)
    mine, foreign = AgentTeamFactory(business_unit=unit), AgentTeamFactory(business_unit=other_unit)
    ann, bob = AgentFactory(business_unit=unit), AgentFactory(business_unit=other_unit)
    with pytest.raises(AssignmentError):
        rule_assign_teams(actor=None, rule=rule, team_ids=[mine.pk, foreign.pk])
    with pytest.raises(AssignmentError):
        rule_assign_agents(actor=None, rule=rule, agent_ids=[ann.pk, bob.pk])
    with pytest.raises(AssignmentError):
        agent_rule_set(actor=None, agent=bob, rule=rule)
    with pytest.raises(AssignmentError):
        team_rule_set(actor=None, team=foreign, rule=rule, priority=1)
    with pytest.raises(AssignmentError, match="no longer exist"):
        rule_assign_teams(actor=None, rule=rule, team_ids=[mine.pk, 999_999])
    assert not TeamRuleAssignment.objects.exists()
    assert not AgentRuleAssignment.objects.exists()


def test_assigning_agents_moves_them_from_their_old_rule(unit):
    rule, old = PresenceRuleFactory(business_unit=unit), PresenceRuleFactory(business_unit=unit)
    ann, bob = AgentFactory(business_unit=unit), AgentFactory(business_unit=unit)
    AgentRuleAssignmentFactory(rule=old, agent=ann)
    rule_assign_agents(actor=None, rule=rule, agent_ids=[ann.pk, bob.pk])
    assert dict(AgentRuleAssignment.objects.values_list("agent_id", "rule_id")) == {
        ann.pk: rule.pk,
        bob.pk: rule.pk,
    }
    rule_assign_agents(actor=None, rule=rule, agent_ids=[bob.pk])
    assert dict(AgentRuleAssignment.objects.values_list("agent_id", "rule_id")) == {bob.pk: rule.pk}


def test_the_agents_own_rule_wins_then_the_best_priority_team(unit):
    sales, support = AgentTeamFactory(business_unit=unit), AgentTeamFactory(business_unit=unit)
    sales_rule = PresenceRuleFactory(business_unit=unit)
    support_rule = PresenceRuleFactory(business_unit=unit)
    team_rule_set(actor=None, team=sales, rule=sales_rule, priority=None)
    team_rule_set(actor=None, team=support, rule=support_rule, priority=None)
    agent = AgentFactory(business_unit=unit, teams=[sales, support])

    assert agent_effective_rule(agent).source == core.Source.CONFLICT
    team_rule_set(actor=None, team=support, rule=support_rule, priority=1)
    effective = agent_effective_rule(agent)
    assert (effective.source, effective.rule.id, effective.team_name) == (
        core.Source.TEAM,
        support_rule.pk,
        support.name,
    )
    own = PresenceRuleFactory(business_unit=unit)
    agent_rule_set(actor=None, agent=agent, rule=own)
    assert agent_effective_rule(agent) == core.Effective(
        core.RuleRef(own.pk, own.name), core.Source.AGENT
    )
    agent_rule_set(actor=None, agent=agent, rule=None)
    assert agent_effective_rule(agent).rule.id == support_rule.pk


def test_many_agents_resolve_as_each_would_alone_in_a_few_queries(unit):
    sales, support = AgentTeamFactory(business_unit=unit), AgentTeamFactory(business_unit=unit)
    TeamRuleAssignmentFactory(rule=PresenceRuleFactory(business_unit=unit), team=sales)
    TeamRuleAssignmentFactory(rule=PresenceRuleFactory(business_unit=unit), team=support)
    agents = [
        AgentFactory(business_unit=unit, teams=[sales]),
        AgentFactory(business_unit=unit, teams=[sales, support]),
        AgentFactory(business_unit=unit),
        AgentRuleAssignmentFactory(
            rule=PresenceRuleFactory(business_unit=unit), agent__business_unit=unit
        ).agent,
    ]
    with CaptureQueriesContext(connection) as queries:
        bulk = effective_rules(agents)
    assert len(queries) <= 3
    assert bulk == {agent.pk: agent_effective_rule(agent) for agent in agents}
    assert [bulk[a.pk].source for a in agents] == ["team", "conflict", "none", "agent"]


def test_reason_codes_are_added_then_renamed_with_an_audit_entry(unit):
    reason_code_upsert(actor=None, business_unit=unit, code="coaching", name="Coaching")
    reason_code_upsert(actor=None, business_unit=unit, code="coaching", name="1:1 coaching")
    assert unit.reason_codes.get(code="coaching").name == "1:1 coaching"
    actions = AuditEntry.objects.filter(action__startswith="reason_code")
    assert sorted(actions.values_list("action", flat=True)) == [
        "reason_code.create",
        "reason_code.update",
    ]
