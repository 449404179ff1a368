"""The demo seed of `make run`: 800 agents that auto-map in every way, and the
integration account for the simulator's demo tenant with its expiry read."""

from collections import Counter
from io import StringIO

from accounts.matching import MatchRule, MatchStatus
from accounts.models import Agent, BusinessUnit
from accounts.services import automap_proposals
from accounts.sync import directory_sync_run
from demo.management.commands.demo import Command as DemoCommand
from demo.seed import DEMO_TEAMS, DEMO_UNIT_CODE, demo_agents_ensure
from integrations.models import IntegrationAccount
from tests.plugins.celery_worker import wait_for


def test_the_demo_seed_builds_800_agents_that_auto_map_in_varied_ways(big_account):
    created = demo_agents_ensure(big_account)
    directory_sync_run()

    assert created == 800
    assert demo_agents_ensure(big_account) == 0  # once only
    unit = BusinessUnit.objects.get(code=DEMO_UNIT_CODE)
    assert set(unit.teams.values_list("name", flat=True)) == set(DEMO_TEAMS)
    assert not Agent.objects.filter(teams__isnull=True).exists()
    proposals = automap_proposals(business_unit=unit)
    statuses = Counter(p.status for p in proposals)
    rules = Counter(p.chosen.rule for p in proposals if p.chosen)
    assert len(proposals) == 800
    assert statuses[MatchStatus.NONE] == 30
    assert statuses[MatchStatus.AMBIGUOUS] >= 30  # the 15 pairs sharing an address
    assert set(rules) == {
        MatchRule.MAIL,
        MatchRule.UPN,
        MatchRule.OTHER_MAIL,
        MatchRule.PROXY_ADDRESS,
        MatchRule.NAME,
    }
    assert rules[MatchRule.MAIL] >= 400


def _expiry_read() -> IntegrationAccount | None:
    return IntegrationAccount.objects.filter(secret_expires_at__isnull=False).first()


def test_the_demo_account_has_its_expiry_read_too(celery_worker, sim_tenant):
    demo = DemoCommand(stdout=StringIO(), stderr=StringIO())
    demo._ensure_account(
        {
            "name": "Contoso",
            "tenant_id": sim_tenant.tenant_id,
            "client_id": sim_tenant.client_id,
            "object_id": sim_tenant.object_id,
            "client_secret": sim_tenant.client_secret,
        }
    )

    account = wait_for(_expiry_read, what="the demo secret's expiry", timeout=30)

    assert account.secret_expiry_source == IntegrationAccount.ExpirySource.GRAPH
