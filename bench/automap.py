"""Auto-map proposals for a business unit: the service call and its query count at two sizes.

The data is synthetic and written straight to the database: most agents share
an address with one directory user, some only a display name, some nothing.
"""

from __future__ import annotations

import time

from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.matching import AgentRef, propose
from accounts.models import Agent, AgentMapping, BusinessUnit, DirectoryUser
from accounts.services import automap_proposals, directory_user_refs
from bench.report import Row, median

SIZES = (5_000, 50_000)
RUNS = 3
BATCH = 5_000


def population_grow(unit: BusinessUnit, start: int, stop: int) -> None:
    """Agents and directory users ``start`` .. ``stop - 1``: 80 % match by mail, 10 % by
    name only, 10 % by nothing."""
    users, agents = [], []
    for n in range(start, stop):
        kind = n % 10
        users.append(
            DirectoryUser(
                graph_id=f"00000000-0000-4000-8000-{n:012d}",
                display_name=f"Person {n:06d} Sample",
                mail=f"person{n}@contoso.example",
                user_principal_name=f"person{n}@contoso.example",
                proxy_addresses=[f"SMTP:person{n}@contoso.example"],
            )
        )
        agents.append(
            Agent(
                external_id=f"A{n:06d}",
                name=f"Person {n:06d} Sample" if kind < 9 else f"Nobody {n:06d}",
                email=f"Person{n}@Contoso.example" if kind < 8 else "",
                business_unit=unit,
            )
        )
    DirectoryUser.objects.bulk_create(users, batch_size=BATCH)
    Agent.objects.bulk_create(agents, batch_size=BATCH)


def _pure_split(unit: BusinessUnit) -> tuple[float, float]:
    """The same work as the service, timed apart: ORM load, then the pure matcher."""
    started = time.perf_counter()
    agents = [
        AgentRef(id=i, email=e or "", name=n)
        for i, e, n in Agent.objects.filter(business_unit=unit, mapping__isnull=True)
        .order_by("name", "id")
        .values_list("id", "email", "name")
    ]
    users = directory_user_refs()
    mapped = set(AgentMapping.objects.values_list("directory_user__graph_id", flat=True))
    loaded = time.perf_counter()
    propose(agents, users, mapped_users=mapped)
    return loaded - started, time.perf_counter() - loaded


def measure() -> tuple[list[Row], BusinessUnit]:
    """Returns the row and the unit, whose 50,000 agents the mapping page measure reuses."""
    unit = BusinessUnit.objects.create(name="Bench", code="bench")
    per_size: dict[int, dict] = {}
    grown = 0
    for size in SIZES:
        population_grow(unit, grown, size)
        grown = size
        totals, loads, matches, queries = [], [], [], []
        for _ in range(RUNS):
            with CaptureQueriesContext(connection) as captured:
                started = time.perf_counter()
                proposals = automap_proposals(business_unit=unit)
                totals.append(time.perf_counter() - started)
            queries.append(len(captured))
            load, match = _pure_split(unit)
            loads.append(load)
            matches.append(match)
        per_size[size] = {
            "service_seconds": totals,
            "orm_load_seconds": loads,
            "propose_seconds": matches,
            "queries": queries,
            "proposals": len(proposals),
            "matched": sum(1 for p in proposals if p.chosen),
        }
    big, small = per_size[SIZES[-1]], per_size[SIZES[0]]
    seconds = median(big["service_seconds"])
    constant = set(big["queries"]) == set(small["queries"]) and len(set(big["queries"])) == 1
    row = Row(
        "auto-map 50,000 agents x 50,000 users",
        f"{seconds:.2f} s (ORM load {median(big['orm_load_seconds']):.2f} s + matching "
        f"{median(big['propose_seconds']):.2f} s); {big['queries'][0]} queries at "
        f"{SIZES[-1]:,}, {small['queries'][0]} at {SIZES[0]:,}",
        "< 2 s; query count independent of size",
        seconds < 2 and constant,
        {str(size): values for size, values in per_size.items()},
    )
    return [row], unit
