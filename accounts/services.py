"""Agents and their mapping to Teams users: upsert, auto-map, remap, enable/disable."""

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import Q, TextField
from django.db.models.functions import Cast
from django.dispatch import receiver
from django.utils import timezone

from accounts.matching import AgentRef, Candidate, MatchStatus, Proposal, UserRef, propose
from accounts.models import Agent, AgentMapping, AgentTeam, BusinessUnit, DirectoryUser
from integrations.audit import audit_record
from integrations.models import IntegrationAccount
from integrations.signals import integration_account_deleted


class MappingError(Exception):
    """A mapping that cannot be made; the message says why, for the person who tried."""


# --- Business units and agents ------------------------------------------------


@dataclass(frozen=True)
class AgentInput:
    """One agent as the contact center describes it (validated by the API or CSV form)."""

    external_id: str
    name: str
    business_unit: str  # the unit's code
    email: str = ""
    teams: tuple[str, ...] | None = None  # None leaves the agent's teams as they are
    teams_enabled: bool | None = None


@dataclass
class UpsertResult:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)


def business_unit_upsert(*, actor, code: str, name: str) -> tuple[BusinessUnit, bool]:
    """Create the unit or rename it; returns (unit, created)."""
    unit, created = BusinessUnit.objects.get_or_create(code=code, defaults={"name": name})
    if not created and unit.name != name:
        audit_record(
            actor=actor,
            action="business_unit.update",
            target=unit,
            summary=f"Renamed business unit {unit.code}",
            changes={"name": [unit.name, name]},
        )
        unit.name = name
        unit.save(update_fields=["name"])
    elif created:
        audit_record(
            actor=actor,
            action="business_unit.create",
            target=unit,
            summary=f"Created business unit {name}",
        )
    return unit, created


def unknown_business_units(codes: Iterable[str]) -> set[str]:
    wanted = set(codes)
    return wanted - set(BusinessUnit.objects.filter(code__in=wanted).values_list("code", flat=True))


UPSERT_BATCH = 1000
AGENT_UPSERT_FIELDS = ["name", "email", "business_unit", "teams_enabled", "updated_at"]


@transaction.atomic
def agents_upsert(*, actor, rows: Sequence[AgentInput], source: str) -> UpsertResult:
    """Create or update agents by external id, all or nothing.

    Teams named for an agent are created in its business unit when missing.
    Running the same rows again changes nothing (idempotent). Raises
    MappingError naming unknown business units before writing anything.
    """
    unknown = unknown_business_units(row.business_unit for row in rows)
    if unknown:
        raise MappingError(f"Unknown business units: {', '.join(sorted(unknown))}")
    units = {
        u.code: u for u in BusinessUnit.objects.filter(code__in={r.business_unit for r in rows})
    }
    existing = {
        a.external_id: a
        for a in Agent.objects.filter(external_id__in=[r.external_id for r in rows])
    }
    memberships = _team_ids_of(existing.values())
    teams = _teams_for(rows, units)
    result = UpsertResult()
    # Written in batches at the end: one query per agent made a 20,000-row CSV import
    # take minutes, longer than a web request may run.
    created: list[Agent] = []
    changed_agents: list[Agent] = []
    new_teams: dict[str, set[int]] = {}  # by external id, for the agents whose teams change
    now = timezone.now()
    for row in rows:
        unit = units[row.business_unit]
        agent = existing.get(row.external_id)
        wanted = {"name": row.name, "email": row.email, "business_unit_id": unit.pk}
        if row.teams_enabled is not None:
            wanted["teams_enabled"] = row.teams_enabled
        if agent is None:
            agent = Agent(external_id=row.external_id, **wanted)
            created.append(agent)
            current_teams: set[int] = set()
            changed = True
        else:
            current_teams = memberships.get(agent.pk, set())
            changed = any(getattr(agent, k) != v for k, v in wanted.items())
            if changed:
                for key, value in wanted.items():
                    setattr(agent, key, value)
                agent.updated_at = now  # bulk_update does not apply auto_now
                changed_agents.append(agent)
        if row.teams is not None:
            team_ids = {teams[(unit.pk, name)].pk for name in row.teams}
            if team_ids != current_teams:
                new_teams[row.external_id] = team_ids
                changed = changed or bool(current_teams) or bool(team_ids)
        if row.external_id in existing:
            (result.updated if changed else result.unchanged).append(row.external_id)
        else:
            result.created.append(row.external_id)
    Agent.objects.bulk_create(created, batch_size=UPSERT_BATCH)
    Agent.objects.bulk_update(changed_agents, AGENT_UPSERT_FIELDS, batch_size=UPSERT_BATCH)
    agent_ids = {a.external_id: a.pk for a in [*existing.values(), *created]}
    _team_ids_set({agent_ids[external_id]: ids for external_id, ids in new_teams.items()})
    if result.created or result.updated:
        audit_record(
            actor=actor,
            action="agents.upsert",
            summary=f"{source}: {len(result.created)} agents created, "
            f"{len(result.updated)} updated",
            changes={"created": len(result.created), "updated": len(result.updated)},
        )
    return result


def _team_ids_of(agents: Iterable[Agent]) -> dict[int, set[int]]:
    memberships: dict[int, set[int]] = {}
    rows = Agent.teams.through.objects.filter(agent_id__in=[a.pk for a in agents])
    for agent_id, team_id in rows.values_list("agent_id", "agentteam_id"):
        memberships.setdefault(agent_id, set()).add(team_id)
    return memberships


def _team_ids_set(team_ids: dict[int, set[int]]) -> None:
    """Make each agent's teams exactly the given ones (agent id → team ids)."""
    through = Agent.teams.through
    through.objects.filter(agent_id__in=list(team_ids)).delete()
    through.objects.bulk_create(
        [through(agent_id=a, agentteam_id=t) for a, ids in team_ids.items() for t in ids],
        batch_size=UPSERT_BATCH,
    )


def _teams_for(rows: Sequence[AgentInput], units: dict[str, BusinessUnit]) -> dict:
    wanted = {
        (units[row.business_unit].pk, name) for row in rows if row.teams for name in row.teams
    }
    found = {
        (t.business_unit_id, t.name): t
        for t in AgentTeam.objects.filter(
            business_unit_id__in={unit_id for unit_id, _ in wanted}, name__in={n for _, n in wanted}
        )
    }
    # PostgreSQL and SQLite both return the new ids from bulk_create.
    missing = [AgentTeam(business_unit_id=u, name=n) for u, n in wanted - found.keys()]
    for team in AgentTeam.objects.bulk_create(missing):
        found[(team.business_unit_id, team.name)] = team
    return found


# --- Mapping --------------------------------------------------------------------


MATCHED_FIELDS = ("graph_id", "display_name", "mail", "user_principal_name", "account_enabled")
# The address lists come as their JSON text: most are empty, and decoding "[]" 50,000
# times through the JSON field was a fifth of auto-map's time.
MATCHED_LISTS = {
    "other_mails_text": Cast("other_mails", TextField()),
    "proxy_addresses_text": Cast("proxy_addresses", TextField()),
}


def _address_list(text: str | None) -> tuple[str, ...]:
    return () if not text or text == "[]" else tuple(json.loads(text) or ())


def directory_user_refs() -> list[UserRef]:
    """Every directory user still in the directory, as the matcher sees it.

    Reads plain rows rather than model instances: auto-map reads the whole
    directory, and building 50,000 model objects costs more than the matching.
    """
    rows = (
        DirectoryUser.objects.filter(removed_reason="")
        .annotate(**MATCHED_LISTS)
        .values_list(*MATCHED_FIELDS, *MATCHED_LISTS)
    )
    return [
        UserRef(
            id=graph_id,
            display_name=name,
            mail=mail or None,
            user_principal_name=upn,
            other_mails=_address_list(other_mails),
            proxy_addresses=_address_list(proxies),
            enabled=enabled,
        )
        for graph_id, name, mail, upn, enabled, other_mails, proxies in rows.iterator(5000)
    ]


def automap_proposals(*, business_unit: BusinessUnit) -> list[Proposal]:
    """Proposals for every unmapped agent of the unit, in a constant number of queries."""
    agents = list(
        Agent.objects.filter(business_unit=business_unit, mapping__isnull=True)
        .order_by("name", "id")
        .values_list("id", "email", "name")
    )
    users = directory_user_refs()
    mapped_users = set(AgentMapping.objects.values_list("directory_user__graph_id", flat=True))
    return propose(
        [AgentRef(id=i, email=e or "", name=n) for i, e, n in agents],
        users,
        mapped_users=mapped_users,
    )


@transaction.atomic
def automap_apply(*, actor, business_unit: BusinessUnit, agent_ids: Iterable[int]) -> int:
    """Map the included agents whose proposal is an unambiguous match, in one transaction.

    Proposals are recomputed here, so a stale review page can never apply a
    match that has since become ambiguous or taken. Returns how many were mapped.
    """
    included = set(agent_ids)
    proposals = [
        p
        for p in automap_proposals(business_unit=business_unit)
        if p.agent_id in included and p.status == MatchStatus.MATCHED and p.chosen
    ]
    users = {
        u.graph_id: u.pk
        for u in DirectoryUser.objects.filter(graph_id__in=[p.chosen.user_id for p in proposals])
    }
    mappings = [
        AgentMapping(
            agent_id=p.agent_id,
            directory_user_id=users[p.chosen.user_id],
            method=AgentMapping.Method.AUTO,
            rule=str(p.chosen.rule),
            reason=p.chosen.reason[:300],
            confidence=p.chosen.confidence,
            mapped_by=actor if actor and actor.pk else None,
        )
        for p in proposals
    ]
    AgentMapping.objects.bulk_create(mappings)
    if mappings:
        audit_record(
            actor=actor,
            action="mapping.automap",
            target=business_unit,
            summary=f"Auto-mapped {len(mappings)} agents in {business_unit.name}",
            # Included ids that were not applied: ambiguous or taken since the review.
            changes={"mapped": len(mappings), "skipped": len(included) - len(mappings)},
        )
    return len(mappings)


@transaction.atomic
def agent_map(*, actor, agent: Agent, user: DirectoryUser, candidate: Candidate | None = None):
    """Map (or remap) one agent to a directory user chosen by a person."""
    if user.is_removed:
        raise MappingError(f"{user} was removed from the directory and cannot be mapped.")
    taken = AgentMapping.objects.filter(directory_user=user).exclude(agent=agent).first()
    if taken is not None:
        raise MappingError(f"{user} is already mapped to {taken.agent.name}. Unmap it first.")
    old = AgentMapping.objects.filter(agent=agent).select_related("directory_user").first()
    if old is not None:
        old.delete()
    mapping = AgentMapping.objects.create(
        agent=agent,
        directory_user=user,
        method=AgentMapping.Method.MANUAL,
        rule=str(candidate.rule) if candidate else "",
        reason=(candidate.reason if candidate else "Chosen by hand")[:300],
        confidence=candidate.confidence if candidate else None,
        mapped_by=actor if actor and actor.pk else None,
    )
    audit_record(
        actor=actor,
        action="mapping.remap" if old else "mapping.map",
        target=agent,
        summary=f"Mapped {agent.name} to {user}",
        changes={"from": str(old.directory_user) if old else None, "to": str(user)},
    )
    return mapping


@transaction.atomic
def agent_unmap(*, actor, agent: Agent) -> bool:
    mapping = AgentMapping.objects.filter(agent=agent).select_related("directory_user").first()
    if mapping is None:
        return False
    mapping.delete()
    audit_record(
        actor=actor,
        action="mapping.unmap",
        target=agent,
        summary=f"Unmapped {agent.name} from {mapping.directory_user}",
    )
    return True


def agents_set_teams_enabled(*, actor, agent_ids: Iterable[int] | None, enabled: bool) -> int:
    """Turn Teams integration on or off for the given agents (all agents when None)."""
    agents = Agent.objects.all() if agent_ids is None else Agent.objects.filter(pk__in=agent_ids)
    count = agents.exclude(teams_enabled=enabled).update(teams_enabled=enabled)
    if count:
        audit_record(
            actor=actor,
            action="agents.enable" if enabled else "agents.disable",
            summary=f"Teams integration {'enabled' if enabled else 'disabled'} for {count} agents",
            changes={"agents": count},
        )
    return count


@receiver(integration_account_deleted, sender=IntegrationAccount)
def disable_all_agents(sender, account, **kwargs) -> int:
    """Deleting the integration account turns Teams integration off for every agent."""
    return Agent.objects.filter(teams_enabled=True).update(teams_enabled=False)


def mapping_status_filter(status: str) -> Q:
    """Agents in one mapping status, as the mapping screen's filter names them.

    Conditions on the directory user are semi-joins (``pk IN`` the matching mappings):
    the database reads the mappings once instead of joining them to every agent. They
    name the users no longer current (disabled or removed), a few read through their
    partial index, rather than the current ones, which would mean reading every user.
    """
    not_current = DirectoryUser.objects.filter(
        Q(account_enabled=False) | ~Q(removed_reason="")
    ).values("pk")
    by_user = {
        "mapped": ~Q(directory_user__in=not_current),
        "disabled": Q(directory_user__in=not_current.filter(removed_reason="")),
        "removed": Q(directory_user__in=not_current.exclude(removed_reason="")),
    }
    if status in by_user:
        return Q(pk__in=AgentMapping.objects.filter(by_user[status]).values("agent_id"))
    if status == "unmapped":
        return Q(mapping__isnull=True)
    return Q()
