"""Teams → contact center: what one observed Teams presence does to an agent."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import Agent
from accounts.services import agent_map, automap_apply
from presence.models import PresenceRule
from presence.rules import services
from presence.sync_models import AcdDelivery, AgentPresence, SyncRecord
from presence.to_acd import tasks as to_acd_tasks
from presence.to_acd.sync import MANUAL_ADVICE, notifications_apply, teams_presence_apply
from tests.accounts.factories import AgentFactory, AgentTeamFactory, DirectoryUserFactory
from tests.presence.support_webhook import acd_endpoint_set, mapped_agent, subscriber_rule
from tests.support.task_queue import own_queue

Outcome = SyncRecord.Outcome


@pytest.fixture
def rule(unit):
    return subscriber_rule(
        unit,
        [
            ("Busy", "InAMeeting", "unavailable", "meeting"),
            ("Busy", None, "working", None),
            ("Available", None, "available", None),
            ("DoNotDisturb", None, "unavailable", "break"),
        ],
    )


@pytest.fixture
def agent(unit, rule):
    return mapped_agent(unit=unit, rule=rule)


@pytest.fixture
def endpoint(db):
    return acd_endpoint_set("https://acd.example/hooks/teams")


def apply(agent, availability, activity, sequence=None, *, ago=0.0, source="notification", **kw):
    return teams_presence_apply(
        agent=agent,
        availability=availability,
        activity=activity,
        sequence=sequence,
        observed_at=timezone.now() - timedelta(seconds=ago),
        source=source,
        **kw,
    )


def presence_of(agent) -> AgentPresence:
    return AgentPresence.objects.get(agent=agent)


def publish(agent, availability, activity, *, minutes=60):
    """What the console's own session last set in Teams (E's side of the engine)."""
    AgentPresence.objects.update_or_create(
        agent=agent,
        defaults={
            "published_availability": availability,
            "published_activity": activity,
            "session_expires_at": timezone.now() + timedelta(minutes=minutes),
        },
    )


# --- applying a rule --------------------------------------------------------------------


def test_a_mapped_presence_updates_the_acd_state_and_queues_a_delivery(agent, rule, endpoint):
    record = apply(agent, "Busy", "InAMeeting", "00000000000000000003", ago=2)

    assert record.outcome == Outcome.APPLIED
    assert record.direction == SyncRecord.Direction.TO_ACD
    assert (record.from_value, record.to_value) == ("Busy / InAMeeting", "Unavailable (Meeting)")
    assert (record.rule_name, record.row_index) == (rule.name, 0)
    assert record.latency_ms >= 2000
    presence = presence_of(agent)
    assert (presence.acd_state, presence.acd_reason) == ("unavailable", "meeting")
    assert (presence.teams_availability, presence.teams_activity) == ("Busy", "InAMeeting")
    assert presence.teams_sequence == "00000000000000000003"
    delivery = AcdDelivery.objects.get(agent=agent)
    assert delivery.status == AcdDelivery.Status.PENDING
    payload = delivery.payload
    assert payload["event"] == "teams.presence"
    assert payload["agent"] == {"external_id": agent.external_id}
    assert (payload["acd_state"], payload["reason_code"]) == ("unavailable", "meeting")
    assert payload["teams"] == {"availability": "Busy", "activity": "InAMeeting"}
    assert payload["id"] == delivery.pk
    assert payload["occurred_at"]
    assert f"#{delivery.pk}" in record.detail


def test_the_exact_activity_row_wins_over_the_wildcard(agent, endpoint):
    assert apply(agent, "Busy", "InACall").to_value == "Working (on a call)"


def test_without_an_acd_webhook_the_console_still_shows_the_state(agent):
    record = apply(agent, "Available", "Available")
    assert record.outcome == Outcome.APPLIED
    assert "No enabled ACD webhook" in record.detail
    assert presence_of(agent).acd_state == "available"
    assert not AcdDelivery.objects.exists()


def test_a_disabled_webhook_gets_nothing(agent):
    acd_endpoint_set("https://acd.example/hooks", enabled=False)
    apply(agent, "Available", "Available")
    assert not AcdDelivery.objects.exists()


def test_agents_with_teams_integration_off_are_skipped(agent, endpoint):
    agent.teams_enabled = False
    assert apply(agent, "Busy", "InACall") is None
    assert not AgentPresence.objects.exists()
    assert not SyncRecord.objects.exists()


def test_no_rule_is_recorded_with_the_reason(unit, endpoint):
    agent = mapped_agent(unit=unit)
    record = apply(agent, "Busy", "InACall")
    assert record.outcome == Outcome.SKIPPED_NO_RULE
    assert "neither the agent nor its teams" in record.detail
    assert presence_of(agent).teams_availability == "Busy"
    assert not AcdDelivery.objects.exists()


def test_a_rule_without_a_row_for_the_presence_is_no_rule(agent, rule, endpoint):
    record = apply(agent, "Away", "Away")
    assert record.outcome == Outcome.SKIPPED_NO_RULE
    assert record.rule_name == rule.name
    assert "No row for Away / Away" in record.detail


def test_a_rule_that_only_publishes_never_changes_the_acd(unit, endpoint):
    publishing = services.rule_save(
        actor=None,
        business_unit=unit,
        name="Publish only",
        direction="publisher",
        publisher_rows=[
            services.PublisherRowInput("available", None, "set", "Available", "Available", 240)
        ],
        subscriber_rows=[],
    )
    agent = mapped_agent(unit=unit, rule=publishing)
    record = apply(agent, "Available", "Available")
    assert record.outcome == Outcome.SKIPPED_NO_RULE
    assert "does not follow Teams" in record.detail


def test_reconciliation_says_so_in_the_history(agent, endpoint):
    record = apply(agent, "Available", "Available", source="reconcile")
    assert record.detail.startswith("Found by reconciliation.")


def test_rule_specs_are_reused_within_a_run(agent, monkeypatch, endpoint):
    calls = []
    real = services.rule_spec

    def counting(rule):
        calls.append(rule.pk)
        return real(rule)

    monkeypatch.setattr(services, "rule_spec", counting)
    specs: dict = {}
    apply(agent, "Busy", "InACall", "1", specs=specs)
    apply(agent, "Available", "Available", "2", specs=specs)
    assert len(calls) == 1


# --- order and duplicates ------------------------------------------------------------------


def test_an_older_sequence_number_is_skipped_as_stale(agent, endpoint):
    apply(agent, "Busy", "InACall", "00000000000000000010")
    record = apply(agent, "Available", "Available", "00000000000000000009")
    assert record.outcome == Outcome.SKIPPED_STALE
    assert presence_of(agent).teams_availability == "Busy"
    assert presence_of(agent).acd_state == "working"
    assert AcdDelivery.objects.count() == 1


def test_sequence_numbers_compare_as_numbers_not_text(agent, endpoint):
    apply(agent, "Busy", "InACall", "9")
    record = apply(agent, "Available", "Available", "10")  # "10" < "9" as text
    assert record.outcome == Outcome.APPLIED


def test_the_same_notification_twice_is_harmless(agent, endpoint):
    apply(agent, "Busy", "InACall", "00000000000000000005")
    assert apply(agent, "Busy", "InACall", "00000000000000000005") is None
    assert SyncRecord.objects.count() == 1
    assert AcdDelivery.objects.count() == 1


def test_an_unchanged_presence_without_a_sequence_changes_nothing(agent, endpoint):
    apply(agent, "Busy", "InACall")
    assert apply(agent, "Busy", "InACall", source="reconcile") is None
    assert AcdDelivery.objects.count() == 1


# --- the console's own session, and a status set by hand --------------------------------------


def test_the_echo_of_the_consoles_own_session_is_skipped(agent, endpoint):
    publish(agent, "Busy", "InACall")
    record = apply(agent, "Busy", "InACall")
    assert record.outcome == Outcome.SKIPPED_ECHO
    assert not AcdDelivery.objects.exists()
    assert presence_of(agent).acd_state == ""


def test_after_the_session_expired_the_same_pair_follows_the_rule(agent, endpoint):
    publish(agent, "Busy", "InACall", minutes=-1)
    assert apply(agent, "Busy", "InACall").outcome == Outcome.APPLIED


def test_a_hand_set_status_is_flagged_with_the_advice(agent, endpoint):
    publish(agent, "Busy", "InACall")
    record = apply(agent, "DoNotDisturb", "DoNotDisturb")
    assert record.outcome == Outcome.SKIPPED_MANUAL
    assert record.detail == MANUAL_ADVICE
    assert "Reset status" in MANUAL_ADVICE
    assert presence_of(agent).manual_in_teams is True
    assert not AcdDelivery.objects.exists()


def test_resetting_the_status_in_teams_clears_the_flag(agent, endpoint):
    publish(agent, "Busy", "InACall")
    apply(agent, "Available", "Available", "1")
    assert presence_of(agent).manual_in_teams is True
    assert apply(agent, "Busy", "InACall", "2").outcome == Outcome.SKIPPED_ECHO
    assert presence_of(agent).manual_in_teams is False


def test_a_preferred_pair_without_a_console_session_follows_the_rule(agent, endpoint):
    record = apply(agent, "DoNotDisturb", "DoNotDisturb")
    assert record.outcome == Outcome.APPLIED
    assert presence_of(agent).manual_in_teams is False


def test_a_session_pair_that_is_not_preferred_is_not_manual(agent, endpoint):
    publish(agent, "Available", "Available")
    record = apply(agent, "Busy", "InAMeeting")  # a meeting beats our Available session
    assert record.outcome == Outcome.APPLIED
    assert record.to_value == "Unavailable (Meeting)"


def test_the_publishers_fields_are_left_alone(agent, endpoint):
    publish(agent, "Busy", "InACall")
    apply(agent, "Away", "Away")
    presence = presence_of(agent)
    assert (presence.published_availability, presence.published_activity) == ("Busy", "InACall")
    assert presence.session_expires_at is not None


# --- the task's body ------------------------------------------------------------------------


def item(user_id, availability, activity, sequence):
    return {
        "subscription": "sub-1",
        "user_id": user_id,
        "availability": availability,
        "activity": activity,
        "sequence": sequence,
        "observed_at": timezone.now().isoformat(),
    }


def test_a_batch_is_applied_oldest_first_per_user(agent, endpoint):
    user_id = agent.mapping.directory_user.graph_id
    counts = notifications_apply(
        [
            item(user_id, "Available", "Available", "00000000000000000008"),
            item(user_id, "Busy", "InACall", "00000000000000000007"),
            item("11111111-2222-4333-8444-555555555555", "Busy", "InACall", "1"),
        ]
    )
    assert presence_of(agent).teams_availability == "Available"
    assert presence_of(agent).acd_state == "available"
    assert counts == {Outcome.APPLIED: 2, "unmapped": 1}


def test_user_ids_match_whatever_their_case(agent, endpoint):
    user_id = agent.mapping.directory_user.graph_id.upper()
    assert notifications_apply([item(user_id, "Busy", "InACall", "1")]) == {Outcome.APPLIED: 1}


def test_a_change_without_values_reconciles_the_agent(
    agent, monkeypatch, django_capture_on_commit_callbacks
):
    user_id = agent.mapping.directory_user.graph_id
    with own_queue(monkeypatch, to_acd_tasks.reconcile) as queue:
        with django_capture_on_commit_callbacks(execute=True):
            counts = notifications_apply([item(user_id, None, None, None)])
        asked = queue.kwargs_of(to_acd_tasks.reconcile.name)
    assert counts == {"reconcile": 1}
    assert asked == [{"agent_ids": [agent.pk], "reason": "notification without presence"}]
    assert not SyncRecord.objects.exists()


def test_garbage_items_do_not_stop_the_batch(agent, endpoint):
    user_id = agent.mapping.directory_user.graph_id
    counts = notifications_apply(["text", {"user_id": None}, item(user_id, "Busy", "InACall", "1")])
    assert counts[Outcome.APPLIED] == 1


def test_one_agents_failure_does_not_cost_the_others_their_change(
    unit, rule, endpoint, monkeypatch
):
    from presence.to_acd import sync as to_acd

    first, second = mapped_agent(unit=unit, rule=rule), mapped_agent(unit=unit, rule=rule)
    real = to_acd.teams_presence_apply

    def flaky(*, agent, **kwargs):
        if agent.pk == first.pk:
            raise ValueError("boom")
        return real(agent=agent, **kwargs)

    monkeypatch.setattr(to_acd, "teams_presence_apply", flaky)
    counts = notifications_apply(
        [
            item(first.mapping.directory_user.graph_id, "Busy", "InACall", "1"),
            item(second.mapping.directory_user.graph_id, "Busy", "InACall", "1"),
        ]
    )
    assert counts == {"errors": 1, Outcome.APPLIED: 1}
    assert presence_of(second).acd_state == "working"


# --- the first presence after mapping ---------------------------------------------------------


@pytest.fixture
def offline_rule(unit):
    """The demo rule's shape: Offline logs the agent out, Available makes it available."""
    return subscriber_rule(
        unit,
        [("Offline", None, "logged_out", None), ("Available", None, "available", None)],
        name="Demo",
        on_mapping=PresenceRule.OnMapping.KEEP,
    )


def newly_mapped(unit, offline_rule, count: int) -> list:
    """Agents mapped by auto-map, the way an admin maps a unit, with the rule on their team."""
    team = AgentTeamFactory(business_unit=unit)
    services.team_rule_set(actor=None, team=team, rule=offline_rule, priority=None)
    agents = AgentFactory.create_batch(count, business_unit=unit, teams=[team])
    for agent in agents:
        DirectoryUserFactory(mail=agent.email)
    assert automap_apply(actor=None, business_unit=unit, agent_ids=[a.pk for a in agents]) == count
    return agents


def test_mapping_agents_shown_offline_in_teams_logs_none_of_them_out(unit, offline_rule, endpoint):
    agents = newly_mapped(unit, offline_rule, 30)
    mapped = Agent.objects.filter(pk__in=[a.pk for a in agents]).select_related(
        "mapping__directory_user"
    )
    users = {a.pk: a.mapping.directory_user.graph_id for a in mapped}

    counts = notifications_apply(
        [item(users[a.pk], "Offline", "OffWork", "00000000000000000001") for a in agents]
    )

    assert counts == {Outcome.SKIPPED_NEW_MAPPING: 30}
    assert not AcdDelivery.objects.exists()
    # The board still shows what Teams says, and the ACD state as it was.
    board = AgentPresence.objects.filter(agent__in=agents)
    assert {(p.teams_availability, p.acd_state) for p in board} == {("Offline", "")}
    record = SyncRecord.objects.filter(agent=agents[0]).get()
    assert record.rule_name == "Demo"
    assert "First Teams presence since the agent was mapped" in record.detail
    assert "Logged out" in record.detail  # what the rule would have done


def test_the_next_change_after_mapping_reaches_the_acd(unit, offline_rule, endpoint):
    [agent] = newly_mapped(unit, offline_rule, 1)
    apply(agent, "Offline", "OffWork", "1")

    record = apply(agent, "Available", "Available", "2")

    assert record.outcome == Outcome.APPLIED
    assert [d.payload["acd_state"] for d in AcdDelivery.objects.all()] == ["available"]


def test_a_rule_that_applies_on_mapping_sends_the_first_presence(unit, offline_rule, endpoint):
    offline_rule.on_mapping = PresenceRule.OnMapping.APPLY
    offline_rule.save()
    [agent] = newly_mapped(unit, offline_rule, 1)

    record = apply(agent, "Offline", "OffWork", "1")

    assert record.outcome == Outcome.APPLIED
    assert [d.payload["acd_state"] for d in AcdDelivery.objects.all()] == ["logged_out"]


def test_remapping_makes_the_new_users_first_presence_a_first_one_again(
    unit, offline_rule, endpoint
):
    [agent] = newly_mapped(unit, offline_rule, 1)
    apply(agent, "Offline", "OffWork", "500")
    apply(agent, "Available", "Available", "501")
    agent_map(actor=None, agent=agent, user=DirectoryUserFactory())
    agent = Agent.objects.select_related("mapping__directory_user").get(pk=agent.pk)

    # The new user's sequence numbers have nothing to do with the old user's.
    record = apply(agent, "Offline", "OffWork", "7")

    assert record.outcome == Outcome.SKIPPED_NEW_MAPPING
    assert presence_of(agent).teams_availability == "Offline"
    assert [d.payload["acd_state"] for d in AcdDelivery.objects.all()] == ["available"]
    assert apply(agent, "Available", "Available", "8").outcome == Outcome.APPLIED
