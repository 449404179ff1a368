"""The mapping screen with 50,000 agents: server time and queries over 200 requests.

Requests go through django.test.Client (the whole middleware stack and the
template, no network), signed in as an Administrator, across filters and pages.
"""

from __future__ import annotations

import itertools
import time

from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import Agent, AgentMapping, BusinessUnit, DirectoryUser
from bench.report import Row, median, percentile
from console.roles import ADMINISTRATOR, role_assign

REQUESTS = 200
WARMUP = 5


def _map_half(unit: BusinessUnit) -> None:
    """Map every other agent to its directory user; switch Teams off for a few."""
    agents = Agent.objects.filter(business_unit=unit).order_by("id").values_list("id", flat=True)
    users = DirectoryUser.objects.order_by("id").values_list("id", flat=True)
    mappings = [
        AgentMapping(agent_id=a, directory_user_id=u, method=AgentMapping.Method.AUTO)
        for n, (a, u) in enumerate(zip(agents, users, strict=False))
        if n % 2 == 0
    ]
    AgentMapping.objects.bulk_create(mappings, batch_size=5_000)
    Agent.objects.filter(business_unit=unit, external_id__endswith="7").update(teams_enabled=False)


def _queries(unit: BusinessUnit) -> list[dict[str, str]]:
    filters = [
        {},
        {"status": "mapped"},
        {"status": "unmapped"},
        {"status": "teams_off"},
        {"status": "ambiguous"},
        {"business_unit": str(unit.pk)},
        {"q": "Person 0421"},
        {"q": "person12@contoso"},
        {"q": "A031337"},
    ]
    pages = ["1", "2", "50", "400", "999"]
    return [f | {"page": p} for f, p in itertools.product(filters, pages)]


def measure(unit: BusinessUnit) -> list[Row]:
    _map_half(unit)
    admin = get_user_model().objects.create_user("bench-admin")  # force_login: no password
    role_assign(admin, ADMINISTRATOR)
    client = Client()
    client.force_login(admin)
    url = reverse("accounts:mapping")
    cycle = itertools.cycle(_queries(unit))
    for _ in range(WARMUP):
        client.get(url, next(cycle))
    times, queries = [], []
    for _ in range(REQUESTS):
        params = next(cycle)
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            response = client.get(url, params)
            times.append(time.perf_counter() - started)
        if response.status_code != 200:
            raise RuntimeError(f"mapping page answered {response.status_code} for {params}")
        queries.append(len(captured))
    p95 = percentile(times, 0.95)
    return [
        Row(
            "mapping page with 50,000 agents",
            f"p95 {p95 * 1000:.0f} ms (median {median(times) * 1000:.0f} ms) over "
            f"{REQUESTS} requests; ≤ {max(queries)} queries per page",
            "p95 < 150 ms; ≤ 10 queries per page",
            p95 < 0.150 and max(queries) <= 10,
            {"seconds": times, "queries": queries},
        )
    ]
