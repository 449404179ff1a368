"""Upgrading to rules with an "on mapping" policy: agents whose Teams presence the
console already followed are not taken for newly mapped ones."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = ("presence", "0002_sync_engine")


@pytest.mark.django_db(transaction=True)
def test_presences_followed_before_the_upgrade_stay_followed():
    executor = MigrationExecutor(connection)
    latest = executor.loader.graph.leaf_nodes()
    # Only presence goes back: the other apps stay as they are, and come back whole.
    executor.migrate([BEFORE])
    old = executor.loader.project_state([BEFORE, *(n for n in latest if n[0] == "accounts")]).apps
    unit = old.get_model("accounts", "BusinessUnit").objects.create(name="Voice", code="voice")
    Agent = old.get_model("accounts", "Agent")
    followed, unseen = (
        Agent.objects.create(external_id=key, name=key, business_unit=unit)
        for key in ("followed", "unseen")
    )
    for agent in (followed, unseen):
        user = old.get_model("accounts", "DirectoryUser").objects.create(graph_id=agent.name)
        old.get_model("accounts", "AgentMapping").objects.create(
            agent=agent, directory_user=user, method="manual"
        )
    AgentPresence = old.get_model("presence", "AgentPresence")
    AgentPresence.objects.create(agent=followed, teams_availability="Available")
    AgentPresence.objects.create(agent=unseen)

    executor = MigrationExecutor(connection)
    executor.migrate(latest)

    new = executor.loader.project_state(latest).apps
    presences = new.get_model("presence", "AgentPresence").objects
    mapping = new.get_model("accounts", "AgentMapping").objects.get(agent_id=followed.pk)
    assert presences.get(agent_id=followed.pk).teams_mapping_id == mapping.pk
    assert presences.get(agent_id=unseen.pk).teams_mapping_id is None
