"""The contact-center API for business units and agents (mounted in config/api.py).

Bulk upserts are all or nothing: every row is checked before anything is
written, and each problem is reported with the path of its row.
"""

from collections import Counter
from math import ceil

from django.db import transaction
from django.http import Http404, HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Query, Router
from ninja.errors import ValidationError

from accounts import services
from accounts.models import Agent, BusinessUnit
from accounts.schemas import (
    AgentBatch,
    AgentFilters,
    AgentOut,
    AgentPage,
    BusinessUnitBatch,
    BusinessUnitList,
    UpsertOut,
)
from integrations.apikeys import api_key_auth
from integrations.models import ApiKey

router = Router()

AGENTS_READ = api_key_auth(ApiKey.Scope.AGENTS_READ)
AGENTS_WRITE = api_key_auth(ApiKey.Scope.AGENTS_WRITE)


def _row_error(collection: str, index: int, field: str, message: str) -> dict:
    # The shape ninja gives pydantic's errors, so one handler reports both.
    return {"loc": ("body", "payload", collection, index, field), "msg": message}


def _row_index(error: dict) -> int:
    return error["loc"][3]


def _duplicates(collection: str, values: list[str], field: str, label: str) -> list[dict]:
    counts = Counter(values)
    first: dict[str, int] = {}
    errors = []
    for index, value in enumerate(values):
        if counts[value] > 1 and value in first:
            message = (
                f"Duplicate {label} {value!r}; it first appears at {collection}[{first[value]}]."
            )
            errors.append(_row_error(collection, index, field, message))
        first.setdefault(value, index)
    return errors


def _source(request: HttpRequest) -> str:
    return f"API key {request.auth.name}"


@router.put(
    "/business-units",
    auth=AGENTS_WRITE,
    response=UpsertOut,
    tags=["Business units"],
    summary="Create or rename business units",
)
def business_units_upsert(request: HttpRequest, payload: BusinessUnitBatch):
    """Creates units by code and renames existing ones. Sending the same list again changes
    nothing. Names are unique: a name held by another unit is refused."""
    rows = payload.business_units
    errors = _duplicates("business_units", [r.code for r in rows], "code", "code")
    errors += _duplicates("business_units", [r.name for r in rows], "name", "name")
    holders = dict(
        BusinessUnit.objects.filter(name__in=[r.name for r in rows]).values_list("name", "code")
    )
    for index, row in enumerate(rows):
        holder = holders.get(row.name)
        if holder is not None and holder != row.code:
            message = f"Business unit {holder!r} already has the name {row.name!r}."
            errors.append(_row_error("business_units", index, "name", message))
    if errors:
        raise ValidationError(sorted(errors, key=_row_index))

    names = dict(
        BusinessUnit.objects.filter(code__in=[r.code for r in rows]).values_list("code", "name")
    )
    result = UpsertOut(created=[], updated=[], unchanged=[])
    with transaction.atomic():
        for row in rows:
            _unit, created = services.business_unit_upsert(actor=None, code=row.code, name=row.name)
            if created:
                result.created.append(row.code)
            elif names[row.code] != row.name:
                result.updated.append(row.code)
            else:
                result.unchanged.append(row.code)
    return result


@router.get(
    "/business-units",
    auth=AGENTS_READ,
    response=BusinessUnitList,
    tags=["Business units"],
    summary="List business units",
)
def business_units_list(request: HttpRequest):
    return {"business_units": BusinessUnit.objects.order_by("code")}


@router.put(
    "/agents",
    auth=AGENTS_WRITE,
    response=UpsertOut,
    tags=["Agents"],
    summary="Create or update agents",
)
def agents_upsert(request: HttpRequest, payload: AgentBatch):
    """Creates agents by external id and updates the ones that changed; idempotent. Every
    business unit must exist first. Teams named for an agent are created in its unit."""
    rows = payload.agents
    errors = _duplicates("agents", [r.external_id for r in rows], "external_id", "external id")
    unknown = services.unknown_business_units(r.business_unit for r in rows)
    for index, row in enumerate(rows):
        if row.business_unit in unknown:
            message = f"Unknown business unit {row.business_unit!r}; create it first."
            errors.append(_row_error("agents", index, "business_unit", message))
    if errors:
        raise ValidationError(sorted(errors, key=_row_index))

    inputs = [
        services.AgentInput(
            external_id=row.external_id,
            name=row.name,
            business_unit=row.business_unit,
            email=row.email,
            teams=tuple(dict.fromkeys(row.teams)) if row.teams is not None else None,
            teams_enabled=row.teams_enabled,
        )
        for row in rows
    ]
    try:
        result = services.agents_upsert(actor=None, rows=inputs, source=_source(request))
    except services.MappingError as exc:
        # A unit deleted between the check above and the upsert.
        raise ValidationError([{"loc": ("body", "payload", "agents"), "msg": str(exc)}]) from exc
    return UpsertOut(created=result.created, updated=result.updated, unchanged=result.unchanged)


def _agents():
    return Agent.objects.select_related(
        "business_unit", "mapping__directory_user"
    ).prefetch_related("teams")


@router.get(
    "/agents",
    auth=AGENTS_READ,
    response=AgentPage,
    tags=["Agents"],
    summary="List agents with their Teams mapping",
)
def agents_list(request: HttpRequest, filters: Query[AgentFilters]):
    """Agents ordered by external id, a page at a time, each with the Teams user it is
    mapped to (or null)."""
    agents = _agents().order_by("external_id")
    if filters.business_unit:
        agents = agents.filter(business_unit__code=filters.business_unit)
    if filters.mapped is not None:
        agents = agents.filter(mapping__isnull=not filters.mapped)
    count = agents.count()
    start = (filters.page - 1) * filters.page_size
    return {
        "count": count,
        "page": filters.page,
        "page_size": filters.page_size,
        "pages": max(1, ceil(count / filters.page_size)),
        "agents": list(agents[start : start + filters.page_size]) if start < count else [],
    }


@router.get(
    "/agents/{path:external_id}",
    auth=AGENTS_READ,
    response=AgentOut,
    tags=["Agents"],
    summary="One agent with its Teams mapping",
)
def agent_detail(request: HttpRequest, external_id: str):
    if "\x00" in external_id:  # no stored id holds one (PostgreSQL cannot compare it)
        raise Http404
    return get_object_or_404(_agents(), external_id=external_id)
