"""Presence rules: save, delete, assign, and resolve the rule in force for an agent.

Validation is the pure core's (presence/rules/core.py), so the editor, the API
and the sync engine agree on what a rule means.
"""

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import timedelta

from django.db import transaction

from accounts.models import Agent, AgentTeam, BusinessUnit
from integrations.audit import audit_record
from presence.models import (
    AgentRuleAssignment,
    PresenceRule,
    PublisherRow,
    ReasonCode,
    SubscriberRow,
    TeamRuleAssignment,
)
from presence.rules import core

STANDARD_REASON_CODES = (("break", "Break"), ("lunch", "Lunch"), ("training", "Training"),
                         ("meeting", "Meeting"))  # fmt: skip


class RuleInvalid(Exception):
    """The rule breaks a rule of the core; `problems` says where and why."""

    def __init__(self, problems: Sequence[core.RuleProblem]):
        super().__init__("; ".join(p.message for p in problems))
        self.problems = list(problems)


class RuleInUse(Exception):
    """A rule that is assigned cannot be deleted; the message says where it is used."""


class AssignmentError(Exception):
    """An assignment that crosses business units or names unknown teams or agents."""


@dataclass
class PublisherRowInput:
    acd_state: str
    reason_code: str | None
    action: str  # "set" or "clear"
    availability: str = ""
    activity: str = ""
    session_minutes: int = 240


@dataclass
class SubscriberRowInput:
    availability: str
    activity: str | None
    acd_state: str
    reason_code: str | None = None


def _acd_state(value: str) -> core.AcdState:
    # An unknown state (a crafted form post) is the core's to report as a RuleProblem;
    # converting it here would raise ValueError and rule_save would never say why.
    try:
        return core.AcdState(value)
    except ValueError:
        return value  # type: ignore[return-value]


def _direction(value: str) -> core.Direction:
    try:
        return core.Direction(value)
    except ValueError:
        return value  # type: ignore[return-value]


def _core_publisher(row: PublisherRowInput) -> core.PublisherRow:
    action: core.TeamsAction = (
        core.ClearPresence()
        if row.action == PublisherRow.Action.CLEAR
        else core.SetPresence(
            row.availability, row.activity, timedelta(minutes=row.session_minutes)
        )
    )
    return core.PublisherRow(_acd_state(row.acd_state), row.reason_code or None, action)


def _core_subscriber(row: SubscriberRowInput) -> core.SubscriberRow:
    return core.SubscriberRow(
        row.availability,
        row.activity or None,
        _acd_state(row.acd_state),
        row.reason_code or None,
    )


def spec_of(
    name: str,
    direction: str,
    publisher_rows: Sequence[PublisherRowInput],
    subscriber_rows: Sequence[SubscriberRowInput],
) -> core.RuleSpec:
    return core.RuleSpec(
        name=name,
        direction=_direction(direction),
        publisher_rows=tuple(_core_publisher(r) for r in publisher_rows),
        subscriber_rows=tuple(_core_subscriber(r) for r in subscriber_rows),
    )


def rule_spec(rule: PresenceRule) -> core.RuleSpec:
    """The stored rule as the core sees it (rows in their saved order)."""
    publishers = [
        PublisherRowInput(
            r.acd_state,
            r.reason_code.code if r.reason_code else None,
            r.action,
            r.availability,
            r.activity,
            r.session_minutes,
        )
        for r in rule.publisher_rows.select_related("reason_code")
    ]
    subscribers = [
        SubscriberRowInput(
            r.availability,
            r.activity or None,
            r.acd_state,
            r.reason_code.code if r.reason_code else None,
        )
        for r in rule.subscriber_rows.select_related("reason_code")
    ]
    spec = spec_of(rule.name, rule.direction, publishers, subscribers)
    return replace(spec, apply_on_mapping=rule.on_mapping == PresenceRule.OnMapping.APPLY)


def reason_codes_ensure(business_unit: BusinessUnit) -> None:
    """Give a unit the usual unavailable reason codes (once)."""
    for code, name in STANDARD_REASON_CODES:
        ReasonCode.objects.get_or_create(
            business_unit=business_unit, code=code, defaults={"name": name}
        )


def reason_code_upsert(*, actor, business_unit: BusinessUnit, code: str, name: str) -> ReasonCode:
    reason, created = ReasonCode.objects.update_or_create(
        business_unit=business_unit, code=code, defaults={"name": name}
    )
    audit_record(
        actor=actor,
        action="reason_code.create" if created else "reason_code.update",
        target=reason,
        summary=f"{'Added' if created else 'Renamed'} reason code {name} in {business_unit.name}",
    )
    return reason


@transaction.atomic
def rule_save(
    *,
    actor,
    business_unit: BusinessUnit,
    name: str,
    direction: str,
    publisher_rows: Sequence[PublisherRowInput],
    subscriber_rows: Sequence[SubscriberRowInput],
    rule: PresenceRule | None = None,
    on_mapping: str | None = None,
) -> PresenceRule:
    """Create or replace a rule and all its rows in one transaction.

    ``on_mapping`` says whether a newly mapped agent's first Teams presence goes to the
    ACD (PresenceRule.OnMapping; None leaves it as it is, "keep" for a new rule).
    Raises RuleInvalid (nothing saved) when the core finds problems, including
    unknown reason codes of the unit and a name already used in the unit.
    """
    spec = spec_of(name, direction, publisher_rows, subscriber_rows)
    reasons = {r.code: r for r in ReasonCode.objects.filter(business_unit=business_unit)}
    problems = core.validate_rule(spec, known_reason_codes=set(reasons))
    max_length = PresenceRule._meta.get_field("name").max_length
    if len(name.strip()) > max_length:
        # Caught here, or the database refuses the row and the save fails with a DataError.
        problems.append(
            core.RuleProblem("name", None, f"Keep the name to {max_length} characters or fewer.")
        )
    clash = PresenceRule.objects.filter(business_unit=business_unit, name=name.strip())
    if rule is not None:
        clash = clash.exclude(pk=rule.pk)
    if "\x00" in name:  # PostgreSQL can neither store nor compare it
        problems.append(core.RuleProblem("name", None, "The name may not contain NUL characters."))
    elif clash.exists():
        problems.append(core.RuleProblem("name", None, "Another rule in this unit has that name."))
    if on_mapping is not None and on_mapping not in PresenceRule.OnMapping.values:
        problems.append(
            core.RuleProblem("on_mapping", None, "Choose what a new mapping does to the ACD.")
        )
    if problems:
        raise RuleInvalid(problems)
    creating = rule is None
    rule = rule or PresenceRule(business_unit=business_unit)
    rule.name, rule.direction = name.strip(), direction
    if on_mapping is not None:
        rule.on_mapping = on_mapping
    rule.save()
    rule.publisher_rows.all().delete()
    rule.subscriber_rows.all().delete()
    PublisherRow.objects.bulk_create(
        PublisherRow(
            rule=rule,
            position=i,
            acd_state=r.acd_state,
            reason_code=reasons.get(r.reason_code) if r.reason_code else None,
            action=r.action,
            availability=r.availability if r.action == PublisherRow.Action.SET else "",
            activity=r.activity if r.action == PublisherRow.Action.SET else "",
            session_minutes=r.session_minutes,
        )
        for i, r in enumerate(publisher_rows)
    )
    SubscriberRow.objects.bulk_create(
        SubscriberRow(
            rule=rule,
            position=i,
            availability=r.availability,
            activity=r.activity or "",
            acd_state=r.acd_state,
            reason_code=reasons.get(r.reason_code) if r.reason_code else None,
        )
        for i, r in enumerate(subscriber_rows)
    )
    audit_record(
        actor=actor,
        action="rule.create" if creating else "rule.update",
        target=rule,
        summary=f"{'Created' if creating else 'Saved'} presence rule {rule.name} "
        f"({len(publisher_rows)} publisher, {len(subscriber_rows)} subscriber rows)",
    )
    return rule


def rule_usage(rule: PresenceRule) -> tuple[list[str], list[str]]:
    """Names of the teams and agents the rule is assigned to."""
    teams = list(rule.team_assignments.values_list("team__name", flat=True))
    agents = list(rule.agent_assignments.values_list("agent__name", flat=True))
    return teams, agents


@transaction.atomic
def rule_delete(*, actor, rule: PresenceRule) -> None:
    """Delete an unassigned rule. Raises RuleInUse naming where it is assigned."""
    teams, agents = rule_usage(rule)
    if teams or agents:
        where = []
        if teams:
            where.append(f"teams {', '.join(teams[:10])}{'…' if len(teams) > 10 else ''}")
        if agents:
            shown = ", ".join(agents[:10])
            where.append(f"{len(agents)} agents ({shown}{'…' if len(agents) > 10 else ''})")
        raise RuleInUse(f"{rule.name} is assigned to {' and '.join(where)}. Unassign it first.")
    audit_record(
        actor=actor, action="rule.delete", target=rule, summary=f"Deleted rule {rule.name}"
    )
    rule.delete()


@transaction.atomic
def rule_assign_teams(*, actor, rule: PresenceRule, team_ids: Iterable[int]) -> None:
    """Make exactly these teams use the rule (the "Teams" step of the picker)."""
    wanted = set(team_ids)
    teams = AgentTeam.objects.filter(pk__in=wanted)
    if len(teams) != len(wanted):
        raise AssignmentError("Some of the chosen teams no longer exist.")
    if any(team.business_unit_id != rule.business_unit_id for team in teams):
        raise AssignmentError("A rule can only be assigned to teams of its own business unit.")
    removed = rule.team_assignments.exclude(team_id__in=wanted)
    removed_count = removed.count()
    removed.delete()
    for team in teams:
        TeamRuleAssignment.objects.update_or_create(team=team, defaults={"rule": rule})
    audit_record(
        actor=actor,
        action="rule.assign_teams",
        target=rule,
        summary=f"{rule.name} assigned to {len(wanted)} teams ({removed_count} unassigned)",
        changes={"teams": sorted(team.name for team in teams)},
    )


@transaction.atomic
def rule_assign_agents(*, actor, rule: PresenceRule, agent_ids: Iterable[int]) -> None:
    """Make exactly these agents use the rule as their own (the "Users" step)."""
    wanted = set(agent_ids)
    agents = list(Agent.objects.filter(pk__in=wanted).only("pk", "business_unit_id"))
    if len(agents) != len(wanted):
        raise AssignmentError("Some of the chosen agents no longer exist.")
    if any(agent.business_unit_id != rule.business_unit_id for agent in agents):
        raise AssignmentError("A rule can only be assigned to agents of its own business unit.")
    removed_count, _ = rule.agent_assignments.exclude(agent_id__in=wanted).delete()
    AgentRuleAssignment.objects.filter(agent_id__in=wanted).exclude(rule=rule).update(rule=rule)
    have = set(
        AgentRuleAssignment.objects.filter(agent_id__in=wanted).values_list("agent_id", flat=True)
    )
    AgentRuleAssignment.objects.bulk_create(
        AgentRuleAssignment(agent_id=agent_id, rule=rule) for agent_id in wanted - have
    )
    audit_record(
        actor=actor,
        action="rule.assign_agents",
        target=rule,
        summary=f"{rule.name} assigned to {len(wanted)} agents ({removed_count} unassigned)",
    )


@transaction.atomic
def agent_rule_set(*, actor, agent: Agent, rule: PresenceRule | None) -> None:
    """Give one agent its own rule (None: fall back to its teams' rules)."""
    if rule is None:
        AgentRuleAssignment.objects.filter(agent=agent).delete()
        summary = f"{agent.name} now follows its teams' rule"
    else:
        if rule.business_unit_id != agent.business_unit_id:
            raise AssignmentError("The rule belongs to another business unit.")
        AgentRuleAssignment.objects.update_or_create(agent=agent, defaults={"rule": rule})
        summary = f"{agent.name} now uses {rule.name} (user assigned rule)"
    audit_record(actor=actor, action="rule.assign_agent", target=agent, summary=summary)


@transaction.atomic
def team_rule_set(
    *, actor, team: AgentTeam, rule: PresenceRule | None, priority: int | None
) -> None:
    """Set (or clear) a team's rule and its priority (lower wins for agents in several teams)."""
    if rule is None:
        TeamRuleAssignment.objects.filter(team=team).delete()
    else:
        if rule.business_unit_id != team.business_unit_id:
            raise AssignmentError("The rule belongs to another business unit.")
        TeamRuleAssignment.objects.update_or_create(
            team=team, defaults={"rule": rule, "priority": priority}
        )
    audit_record(
        actor=actor,
        action="rule.assign_team",
        target=team,
        summary=f"Team {team.name}: {'no rule' if rule is None else rule.name}"
        + (f", priority {priority}" if priority is not None else ""),
    )


def _team_rule(assignment: TeamRuleAssignment) -> core.TeamRule:
    rule = core.RuleRef(assignment.rule_id, assignment.rule.name)
    return core.TeamRule(assignment.team_id, assignment.team.name, rule, assignment.priority)


def agent_effective_rule(agent: Agent) -> core.Effective:
    """The rule in force for the agent, and where it comes from (3 queries)."""
    own = AgentRuleAssignment.objects.filter(agent=agent).select_related("rule").first()
    assignments = TeamRuleAssignment.objects.filter(team__agents=agent)
    team_rules = [_team_rule(a) for a in assignments.select_related("team", "rule")]
    agent_rule = core.RuleRef(own.rule_id, own.rule.name) if own else None
    return core.effective_rule(agent_rule, team_rules)


def effective_rules(agents: Sequence[Agent]) -> dict[int, core.Effective]:
    """The effective rule of many agents in a constant number of queries."""
    ids = [agent.pk for agent in agents]
    own = {
        a.agent_id: core.RuleRef(a.rule_id, a.rule.name)
        for a in AgentRuleAssignment.objects.filter(agent_id__in=ids).select_related("rule")
    }
    memberships = list(
        Agent.teams.through.objects.filter(agent_id__in=ids).values_list("agent_id", "agentteam_id")
    )
    by_team = {
        a.team_id: a
        for a in TeamRuleAssignment.objects.filter(
            team_id__in={team for _, team in memberships}
        ).select_related("team", "rule")
    }
    teams_of: dict[int, list[core.TeamRule]] = {agent_id: [] for agent_id in ids}
    for agent_id, team_id in memberships:
        a = by_team.get(team_id)
        if a is not None:
            teams_of[agent_id].append(_team_rule(a))
    return {
        agent_id: core.effective_rule(own.get(agent_id), teams_of[agent_id]) for agent_id in ids
    }


@dataclass(frozen=True)
class MappingEffect:
    """What mapping some agents does to their ACD state: ``rule`` None for the agents
    whose rule does not follow Teams (or who have none); else the rule's name and its
    ``on_mapping`` (PresenceRule.OnMapping)."""

    agents: int
    rule: str | None = None
    on_mapping: str = ""


def mapping_acd_effect(*, agent_ids: Sequence[int]) -> list[MappingEffect]:
    """What mapping these agents will do to their ACD state, by effective rule: the rules
    that push the first Teams presence, then those that keep the ACD state, then the
    agents no rule of theirs changes (constant number of queries)."""
    effective = effective_rules([Agent(pk=agent_id) for agent_id in agent_ids])
    by_rule = Counter(e.rule.id if e.rule else None for e in effective.values())
    rules = PresenceRule.objects.in_bulk([rule_id for rule_id in by_rule if rule_id])
    effects, untouched = [], by_rule.pop(None, 0)
    for rule_id, count in by_rule.items():
        rule = rules[rule_id]
        if rule.direction == PresenceRule.Direction.TO_TEAMS:
            untouched += count
        else:
            effects.append(MappingEffect(count, rule.name, rule.on_mapping))
    effects.sort(key=lambda e: (e.on_mapping != PresenceRule.OnMapping.APPLY, e.rule or ""))
    if untouched:
        effects.append(MappingEffect(untouched))
    return effects
