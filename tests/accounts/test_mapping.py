"""Mapping agents to Teams users: auto-map (review, confirm, apply), manual
remap, the mapping screen's filters and bulk switches, and who may do what."""

import re

import pytest
from django.db import IntegrityError, transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.matching import MatchRule, MatchStatus
from accounts.models import Agent, AgentMapping
from accounts.services import (
    MappingError,
    agent_map,
    agent_unmap,
    agents_set_teams_enabled,
    automap_apply,
    automap_proposals,
)
from integrations.models import AuditEntry
from integrations.services import account_delete
from tests.accounts.factories import (
    AgentFactory,
    AgentMappingFactory,
    BusinessUnitFactory,
    DirectoryUserFactory,
)


@pytest.fixture
def unit(db):
    return BusinessUnitFactory(name="Sales", code="sales")


def _mapped_to(agent: Agent) -> str | None:
    mapping = AgentMapping.objects.filter(agent=agent).select_related("directory_user").first()
    return mapping.directory_user.graph_id if mapping else None


# --- auto-map, one rule at a time ----------------------------------------------------

RULES = {
    # rule: (user fields, agent email, agent name, the reason shown)
    MatchRule.MAIL: (
        {"mail": "ann.lee@contoso.example"},
        " ANN.Lee@Contoso.example ",
        "Agent Ann",
        "Email matches the user's mail (ann.lee@contoso.example)",
    ),
    MatchRule.UPN: (
        {"mail": "bob@vanity.example", "user_principal_name": "bob@contoso.onmicrosoft.com"},
        "bob@contoso.onmicrosoft.com",
        "Agent Bob",
        "Email matches the user's user principal name (bob@contoso.onmicrosoft.com)",
    ),
    MatchRule.OTHER_MAIL: (
        {"other_mails": ["carol@home.example"]},
        "carol@home.example",
        "Agent Carol",
        "Email matches one of the user's other mail addresses (carol@home.example)",
    ),
    MatchRule.PROXY_ADDRESS: (
        {"proxy_addresses": ["SMTP:dan@contoso.example", "smtp:daniel@contoso.example"]},
        "daniel@contoso.example",
        "Agent Dan",
        "Email matches one of the user's proxy addresses (smtp:daniel@contoso.example)",
    ),
    MatchRule.NAME: (
        {"display_name": "Example, Eve"},
        "eve@contact-center.example",
        "Eve Example",
        "Name matches the user's display name (Example, Eve)",
    ),
}


@pytest.mark.parametrize("rule", list(RULES))
def test_automap_proposes_and_applies_a_match_by_each_rule(administrator, unit, rule):
    user_fields, email, name, reason = RULES[rule]
    user = DirectoryUserFactory(**user_fields)
    DirectoryUserFactory.create_batch(3)  # bystanders
    agent = AgentFactory(business_unit=unit, email=email, name=name)

    [proposal] = automap_proposals(business_unit=unit)

    assert proposal.status == MatchStatus.MATCHED
    assert (proposal.chosen.user_id, proposal.chosen.rule) == (user.graph_id, rule)
    assert proposal.chosen.reason == reason

    assert automap_apply(actor=administrator, business_unit=unit, agent_ids=[agent.pk]) == 1

    mapping = AgentMapping.objects.get(agent=agent)
    assert mapping.directory_user == user
    assert (mapping.method, mapping.rule, mapping.reason) == ("auto", str(rule), reason)
    assert mapping.confidence == proposal.chosen.confidence
    assert mapping.mapped_by == administrator


def test_a_disabled_user_is_proposed_with_less_confidence_and_a_reason(unit):
    DirectoryUserFactory(mail="ann@contoso.example", account_enabled=False)
    AgentFactory(business_unit=unit, email="ann@contoso.example")

    [proposal] = automap_proposals(business_unit=unit)

    assert proposal.chosen.confidence == 70
    assert proposal.chosen.reason.endswith("the directory user is disabled")


def test_removed_and_already_mapped_users_are_never_proposed(unit):
    DirectoryUserFactory(mail="ann@contoso.example", removed_reason="deleted")
    taken = DirectoryUserFactory(mail="bo@contoso.example")
    AgentMappingFactory(directory_user=taken)
    AgentFactory(business_unit=unit, email="ann@contoso.example")
    AgentFactory(business_unit=unit, email="bo@contoso.example")

    statuses = [p.status for p in automap_proposals(business_unit=unit)]

    assert statuses == [MatchStatus.NONE, MatchStatus.NONE]


def test_only_the_units_unmapped_agents_are_proposed(unit):
    mapped = AgentMappingFactory(agent__business_unit=unit).agent
    other_unit = AgentFactory()
    pending = AgentFactory(business_unit=unit)

    ids = [p.agent_id for p in automap_proposals(business_unit=unit)]

    assert ids == [pending.pk]
    assert mapped.pk not in ids and other_unit.pk not in ids


def test_an_ambiguous_match_is_never_applied_even_when_its_id_is_posted(administrator, unit):
    DirectoryUserFactory(mail="shared@contoso.example")
    twins = AgentFactory.create_batch(2, business_unit=unit, email="shared@contoso.example")
    DirectoryUserFactory(display_name="Sam Same")
    DirectoryUserFactory(display_name="Sam Same")
    namesake = AgentFactory(business_unit=unit, name="Sam Same", email="")

    proposals = automap_proposals(business_unit=unit)
    mapped = automap_apply(
        actor=administrator, business_unit=unit, agent_ids=[a.pk for a in [*twins, namesake]]
    )

    assert {p.status for p in proposals} == {MatchStatus.AMBIGUOUS}
    assert all(p.chosen is None and p.note for p in proposals)
    assert mapped == 0
    assert not AgentMapping.objects.exists()
    assert not AuditEntry.objects.filter(action="mapping.automap").exists()


def test_an_excluded_match_stays_unmapped_and_the_apply_is_audited(administrator, unit):
    included, excluded = (
        AgentFactory(business_unit=unit, email=DirectoryUserFactory().mail) for _ in range(2)
    )

    mapped = automap_apply(actor=administrator, business_unit=unit, agent_ids=[included.pk])

    assert mapped == 1
    assert _mapped_to(included) is not None
    assert _mapped_to(excluded) is None
    entry = AuditEntry.objects.get(action="mapping.automap")
    assert entry.summary == "Auto-mapped 1 agents in Sales"
    assert entry.actor == administrator
    assert (entry.target_type, entry.target_id) == ("accounts.BusinessUnit", str(unit.pk))
    assert entry.changes["mapped"] == 1


def test_a_stale_review_cannot_map_a_user_mapped_meanwhile(administrator, unit):
    user = DirectoryUserFactory(mail="ann@contoso.example")
    reviewed = AgentFactory(business_unit=unit, email="ann@contoso.example")
    [proposal] = automap_proposals(business_unit=unit)
    assert proposal.chosen.user_id == user.graph_id
    someone_else = AgentFactory(business_unit=unit, email="")
    agent_map(actor=administrator, agent=someone_else, user=user)

    mapped = automap_apply(actor=administrator, business_unit=unit, agent_ids=[reviewed.pk])

    assert mapped == 0
    assert _mapped_to(reviewed) is None
    assert _mapped_to(someone_else) == user.graph_id


def test_a_stale_review_does_not_remap_an_agent_mapped_meanwhile(administrator, unit):
    DirectoryUserFactory(mail="ann@contoso.example")
    agent = AgentFactory(business_unit=unit, email="ann@contoso.example")
    chosen_by_hand = DirectoryUserFactory()
    agent_map(actor=administrator, agent=agent, user=chosen_by_hand)

    assert automap_apply(actor=administrator, business_unit=unit, agent_ids=[agent.pk]) == 0
    assert _mapped_to(agent) == chosen_by_hand.graph_id


def test_the_database_refuses_two_agents_for_one_directory_user(db):
    mapping = AgentMappingFactory()

    with pytest.raises(IntegrityError), transaction.atomic():
        AgentMappingFactory(directory_user=mapping.directory_user)


def test_the_database_refuses_two_directory_users_for_one_agent(db):
    mapping = AgentMappingFactory()

    with pytest.raises(IntegrityError), transaction.atomic():
        AgentMappingFactory(agent=mapping.agent)


# --- the auto-map pages --------------------------------------------------------------


@pytest.fixture
def review(unit):
    """A unit with two matches, an ambiguous pair and an agent nobody matches."""
    ann = DirectoryUserFactory(display_name="Ann Lee", mail="ann@contoso.example")
    bo = DirectoryUserFactory(display_name="Bo Chen", mail="bo@contoso.example")
    DirectoryUserFactory(display_name="Shared Box", mail="shared@contoso.example")
    return {
        "ann": (AgentFactory(business_unit=unit, name="Agent Ann", email=ann.mail), ann),
        "bo": (AgentFactory(business_unit=unit, name="Agent Bo", email=bo.mail), bo),
        "twin1": AgentFactory(business_unit=unit, name="Twin One", email="shared@contoso.example"),
        "twin2": AgentFactory(business_unit=unit, name="Twin Two", email="shared@contoso.example"),
        "nobody": AgentFactory(business_unit=unit, name="Agent Nobody"),
    }


def test_the_review_page_shows_each_proposal_with_its_reason(supervisor_client, unit, review):
    url = reverse("accounts:automap", args=[unit.pk])
    page = supervisor_client.get(url).content.decode()

    assert "Confident matches (2)" in page
    assert "Name only (0)" in page and "Ambiguous (2)" in page and "No match (1)" in page
    assert "Email matches the user&#x27;s mail (ann@contoso.example)" in page
    for key in ("ann", "bo"):
        agent = review[key][0]
        assert (
            f'name="include" value="{agent.pk}" aria-label="Include {agent.name}" checked' in page
        )
    ambiguous = supervisor_client.get(url, {"group": "ambiguous"}).content.decode()
    assert "The user is also the best match for 1 other agent(s)." in ambiguous
    nobody = supervisor_client.get(url, {"group": "none"}).content.decode()
    assert "No directory user matches the agent&#x27;s email or name." in nobody
    for key in ("twin1", "twin2", "nobody"):
        assert f'name="include" value="{review[key].pk}"' not in ambiguous + nobody


def test_untick_all_unticks_every_proposal_of_the_group(supervisor_client, unit, review):
    response = supervisor_client.post(
        reverse("accounts:automap", args=[unit.pk]),
        {"group": "confident", "select": "group_none"},
        follow=True,
    )

    assert " checked" not in response.content.decode()
    assert "0 agents ticked for mapping." in response.content.decode()


def test_review_confirm_and_apply_map_only_the_ticked_matches(
    supervisor, supervisor_client, unit, review
):
    url = reverse("accounts:automap", args=[unit.pk])
    ann, ann_user = review["ann"]
    bo, _ = review["bo"]
    twin = review["twin1"]

    # The page's ticks as the review posts them: Bo unticked, and a crafted ambiguous one.
    confirm = supervisor_client.post(
        url,
        {"step": "confirm", "shown": [ann.pk, bo.pk, twin.pk], "include": [ann.pk, twin.pk]},
    )

    page = confirm.content.decode()
    assert "Map 1 agents in Sales?" in page
    assert "1 matched proposals you excluded stay unmapped" in page
    assert f'name="include" value="{ann.pk}"' in page
    assert f'name="include" value="{twin.pk}"' not in page
    assert not AgentMapping.objects.exists()  # nothing until the second POST

    # Even a hand-made POST naming the ambiguous agent maps only the match.
    applied = supervisor_client.post(
        url, {"step": "apply", "include": [ann.pk, twin.pk]}, follow=True
    )

    assert applied.redirect_chain == [
        (f"{reverse('accounts:mapping')}?business_unit={unit.pk}", 302)
    ]
    assert "Mapped 1 agents in Sales." in applied.content.decode()
    assert list(AgentMapping.objects.values_list("agent", "directory_user")) == [
        (ann.pk, ann_user.pk)
    ]
    assert _mapped_to(bo) is None
    entry = AuditEntry.objects.get(action="mapping.automap")
    assert entry.actor == supervisor


def test_a_unit_with_every_agent_mapped_says_so(supervisor_client, unit):
    AgentMappingFactory(agent__business_unit=unit)

    page = supervisor_client.get(reverse("accounts:automap", args=[unit.pk])).content.decode()

    assert "Every agent in Sales is already mapped." in page


# --- manual map, remap and unmap -------------------------------------------------------


def test_map_and_unmap_are_audited(administrator, unit):
    agent = AgentFactory(business_unit=unit, name="Agent Ann")
    first, second = DirectoryUserFactory.create_batch(2)

    agent_map(actor=administrator, agent=agent, user=first)
    agent_map(actor=administrator, agent=agent, user=second)
    assert agent_unmap(actor=administrator, agent=agent) is True
    assert agent_unmap(actor=administrator, agent=agent) is False

    assert not AgentMapping.objects.exists()
    entries = list(AuditEntry.objects.order_by("id").values_list("action", "changes"))
    assert entries == [
        ("mapping.map", {"from": None, "to": str(first)}),
        ("mapping.remap", {"from": str(first), "to": str(second)}),
        ("mapping.unmap", {}),
    ]


def test_a_user_mapped_to_another_agent_cannot_be_mapped_again(administrator, unit):
    user = DirectoryUserFactory()
    holder = AgentMappingFactory(directory_user=user, agent__name="Agent Holder").agent
    agent = AgentFactory(business_unit=unit)

    with pytest.raises(MappingError, match=r"is already mapped to Agent Holder\. Unmap it first\."):
        agent_map(actor=administrator, agent=agent, user=user)

    assert _mapped_to(holder) == user.graph_id
    assert _mapped_to(agent) is None


def test_a_removed_user_cannot_be_mapped(administrator, unit):
    user = DirectoryUserFactory(removed_reason="changed", removed_at=timezone.now())

    with pytest.raises(MappingError, match="was removed from the directory"):
        agent_map(actor=administrator, agent=AgentFactory(business_unit=unit), user=user)


def test_the_remap_page_ranks_candidates_and_hides_taken_and_removed_users(supervisor_client, unit):
    agent = AgentFactory(business_unit=unit, name="Ann Lee", email="ann@contoso.example")
    by_mail = DirectoryUserFactory(display_name="A. Lee", mail="ann@contoso.example")
    by_name = DirectoryUserFactory(display_name="Anne Lee")
    taken = DirectoryUserFactory(display_name="Ann Lee")
    AgentMappingFactory(directory_user=taken)
    removed = DirectoryUserFactory(display_name="Ann  Lee", removed_reason="deleted")

    page = supervisor_client.get(reverse("accounts:remap", args=[agent.pk])).content.decode()

    assert page.index(by_mail.graph_id) < page.index(by_name.graph_id)
    assert "100%" in page
    assert taken.graph_id not in page and removed.graph_id not in page
    assert "Not mapped to a Teams user." in page


def test_searching_the_directory_marks_users_mapped_to_other_agents(supervisor_client, unit):
    agent = AgentFactory(business_unit=unit)
    free = DirectoryUserFactory(display_name="Zed Free")
    taken = DirectoryUserFactory(display_name="Zed Taken")
    AgentMappingFactory(directory_user=taken, agent__name="Agent Holder")
    DirectoryUserFactory(display_name="Zed Gone", removed_reason="deleted")

    response = supervisor_client.get(
        reverse("accounts:remap", args=[agent.pk]),
        {"q": "zed"},
        headers={"HX-Request": "true", "HX-Target": "search-results"},
    )

    body = response.content.decode().strip()
    assert body.startswith('<div id="search-results">')
    assert "<html" not in body
    assert f'value="{free.graph_id}" id="res-1">' in body
    assert f'value="{taken.graph_id}" id="res-2" disabled>' in body
    assert "Agent Holder" in body
    assert "Zed Gone" not in body


def test_picking_a_user_asks_for_confirmation_then_maps(administrator, administrator_client, unit):
    agent = AgentFactory(business_unit=unit, name="Agent Ann")
    user = DirectoryUserFactory(display_name="Ann Lee")
    url = reverse("accounts:remap", args=[agent.pk])

    confirm = administrator_client.post(url, {"user": user.graph_id})

    assert "Map Agent Ann to Ann Lee?" in confirm.content.decode()
    assert _mapped_to(agent) is None

    done = administrator_client.post(url, {"user": user.graph_id, "confirm": "yes"}, follow=True)

    assert done.redirect_chain == [(url, 302)]
    page = done.content.decode()
    assert "Mapped Agent Ann to Ann Lee." in page
    assert "<strong>Ann Lee</strong>" in page
    mapping = AgentMapping.objects.get(agent=agent)
    assert (mapping.directory_user, mapping.method, mapping.mapped_by) == (
        user,
        "manual",
        administrator,
    )


def test_remapping_replaces_the_previous_user(supervisor_client, unit):
    old = AgentMappingFactory(agent__business_unit=unit, directory_user__display_name="Old User")
    new = DirectoryUserFactory(display_name="New User")
    url = reverse("accounts:remap", args=[old.agent.pk])

    confirm = supervisor_client.post(url, {"user": new.graph_id}).content.decode()
    supervisor_client.post(url, {"user": new.graph_id, "confirm": "yes"})

    assert "replacing Old User" in confirm
    assert _mapped_to(old.agent) == new.graph_id
    assert AgentMapping.objects.count() == 1


def test_remapping_to_a_user_mapped_to_another_agent_shows_an_error(supervisor_client, unit):
    agent = AgentMappingFactory(agent__business_unit=unit).agent
    mine = agent.mapping.directory_user
    theirs = AgentMappingFactory(agent__name="Agent Holder")
    url = reverse("accounts:remap", args=[agent.pk])

    response = supervisor_client.post(
        url, {"user": theirs.directory_user.graph_id, "confirm": "yes"}, follow=True
    )

    assert f"{theirs.directory_user} is already mapped to Agent Holder. Unmap it first." in (
        response.content.decode()
    )
    assert _mapped_to(agent) == mine.graph_id
    assert _mapped_to(theirs.agent) == theirs.directory_user.graph_id
    assert not AuditEntry.objects.filter(action__startswith="mapping.").exists()


def test_confirming_without_a_user_asks_for_one(supervisor_client, unit):
    agent = AgentFactory(business_unit=unit)

    response = supervisor_client.post(
        reverse("accounts:remap", args=[agent.pk]), {"user": "", "confirm": "yes"}, follow=True
    )

    assert "Pick a directory user first." in response.content.decode()
    assert not AgentMapping.objects.exists()


def test_unmapping_from_the_page(supervisor_client, unit):
    agent = AgentMappingFactory(agent__business_unit=unit, agent__name="Agent Ann").agent

    response = supervisor_client.post(
        reverse("accounts:remap", args=[agent.pk]), {"action": "unmap"}, follow=True
    )

    assert "Unmapped Agent Ann." in response.content.decode()
    assert "Not mapped to a Teams user." in response.content.decode()
    assert _mapped_to(agent) is None


# --- the mapping screen ------------------------------------------------------------------

AGENTS = (
    "Mia Mapped",
    "Una Unmapped",
    "Amy Twin",
    "Abe Twin",
    "Dan Disabled",
    "Rob Removed",
    "Tia Off",
)


@pytest.fixture
def roster(unit):
    AgentMappingFactory(agent__name="Mia Mapped", agent__business_unit=unit)
    AgentFactory(name="Una Unmapped", business_unit=unit)
    DirectoryUserFactory(mail="twins@contoso.example")
    AgentFactory(name="Amy Twin", email="twins@contoso.example", business_unit=unit)
    AgentFactory(name="Abe Twin", email="twins@contoso.example", business_unit=unit)
    AgentMappingFactory(
        agent__name="Dan Disabled",
        agent__business_unit=unit,
        directory_user__account_enabled=False,
    )
    AgentMappingFactory(
        agent__name="Rob Removed",
        agent__business_unit=unit,
        directory_user__removed_reason="deleted",
    )
    AgentFactory(name="Tia Off", business_unit=unit, teams_enabled=False)


def _listed(client: Client, **params) -> set[str]:
    page = client.get(reverse("accounts:mapping"), params).content.decode()
    return {name for name in AGENTS if name in page}


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("", set(AGENTS)),
        ("mapped", {"Mia Mapped"}),
        ("unmapped", {"Una Unmapped", "Amy Twin", "Abe Twin", "Tia Off"}),
        ("disabled", {"Dan Disabled"}),
        ("removed", {"Rob Removed"}),
        ("teams_off", {"Tia Off"}),
    ],
)
def test_the_mapping_screen_filters_by_status(supervisor_client, roster, status, expected):
    assert _listed(supervisor_client, status=status) == expected


def test_ambiguous_agents_are_listed_once_the_review_has_seen_them(supervisor_client, unit, roster):
    assert _listed(supervisor_client, status="ambiguous") == set()

    supervisor_client.get(reverse("accounts:automap", args=[unit.pk]))

    assert _listed(supervisor_client, status="ambiguous") == {"Amy Twin", "Abe Twin"}
    page = supervisor_client.get(reverse("accounts:mapping")).content.decode()
    assert page.count('<span class="status status-running">Ambiguous</span>') == 2


def test_the_mapping_screen_searches_and_filters_by_unit(supervisor_client, unit, roster):
    elsewhere = AgentFactory(name="Oz Elsewhere", external_id="EXT-42")
    mia_upn = Agent.objects.get(name="Mia Mapped").mapping.directory_user.user_principal_name

    assert _listed(supervisor_client, q="twin") == {"Amy Twin", "Abe Twin"}
    assert _listed(supervisor_client, q="TWINS@contoso") == {"Amy Twin", "Abe Twin"}
    assert _listed(supervisor_client, q=mia_upn) == {"Mia Mapped"}
    assert _listed(supervisor_client, business_unit=unit.pk) == set(AGENTS)
    page = supervisor_client.get(
        reverse("accounts:mapping"), {"business_unit": elsewhere.business_unit.pk, "q": "EXT-42"}
    ).content.decode()
    assert "Oz Elsewhere" in page
    assert not any(name in page for name in AGENTS)


def test_the_mapping_screen_counts_and_its_htmx_partial(supervisor_client, roster):
    page = supervisor_client.get(reverse("accounts:mapping")).content.decode()
    assert "3 of 7 agents mapped · Teams integration off for 1." in page

    partial = supervisor_client.get(
        reverse("accounts:mapping"),
        {"status": "teams_off"},
        headers={"HX-Request": "true", "HX-Target": "mapping-table"},
    ).content.decode()
    assert partial.strip().startswith('<div id="mapping-table">')
    assert "<html" not in partial and "Tia Off" in partial and "Una Unmapped" not in partial


@pytest.mark.parametrize(
    ("rule", "words"),
    [
        (MatchRule.MAIL, "Matched by mail"),
        (MatchRule.UPN, "Matched by user principal name"),
        (MatchRule.OTHER_MAIL, "Matched by another mail address"),
        (MatchRule.PROXY_ADDRESS, "Matched by a proxy address"),
        (MatchRule.NAME, "Matched by display name"),
        (MatchRule.FUZZY_NAME, "Matched by a similar name"),
    ],
)
def test_the_mapping_screen_says_in_words_how_an_agent_was_matched(
    supervisor_client, unit, rule, words
):
    AgentMappingFactory(agent__name="Mia Mapped", agent__business_unit=unit, rule=rule)

    page = supervisor_client.get(reverse("accounts:mapping")).content.decode()

    row = re.search(r'<tr data-agent=".*?</tr>', page, re.S).group(0)
    assert words in row
    assert f">{rule}<" not in row


def test_bulk_disable_enable_and_reenable_all(supervisor, supervisor_client, unit):
    agents = AgentFactory.create_batch(3, business_unit=unit)
    bystander = AgentFactory(business_unit=unit)
    url = reverse("accounts:mapping_bulk")

    response = supervisor_client.post(
        url, {"action": "disable", "agent": [a.pk for a in agents]}, follow=True
    )
    assert "Teams integration disabled for 3 agents." in response.content.decode()
    assert set(Agent.objects.filter(teams_enabled=False)) == set(agents)

    supervisor_client.post(url, {"action": "enable", "agent": [agents[0].pk]})
    assert set(Agent.objects.filter(teams_enabled=False)) == set(agents[1:])

    response = supervisor_client.post(url, {"action": "reenable_all"}, follow=True)
    assert "Teams integration re-enabled for 2 agents." in response.content.decode()
    assert not Agent.objects.filter(teams_enabled=False).exists()
    assert Agent.objects.get(pk=bystander.pk).teams_enabled

    actions = list(AuditEntry.objects.order_by("id").values_list("action", "changes", "actor"))
    assert actions == [
        ("agents.disable", {"agents": 3}, supervisor.pk),
        ("agents.enable", {"agents": 1}, supervisor.pk),
        ("agents.enable", {"agents": 2}, supervisor.pk),
    ]


def test_bulk_without_a_selection_changes_nothing(supervisor_client, unit):
    AgentFactory(business_unit=unit)

    response = supervisor_client.post(
        reverse("accounts:mapping_bulk"), {"action": "disable"}, follow=True
    )

    assert "Select agents first, then choose Enable or Disable." in response.content.decode()
    assert not Agent.objects.filter(teams_enabled=False).exists()


def test_bulk_returns_to_the_filtered_screen(supervisor_client, unit):
    agent = AgentFactory(business_unit=unit)
    back = f"{reverse('accounts:mapping')}?status=teams_off"

    response = supervisor_client.post(
        reverse("accounts:mapping_bulk"), {"action": "disable", "agent": [agent.pk], "next": back}
    )

    assert response.url == back


def test_switching_agents_already_in_that_state_records_nothing(unit):
    AgentFactory(business_unit=unit)
    assert agents_set_teams_enabled(actor=None, agent_ids=None, enabled=True) == 0
    assert not AuditEntry.objects.exists()


def test_deleting_the_integration_account_disables_every_agent(administrator, make_account, unit):
    AgentFactory.create_batch(3, business_unit=unit)
    AgentFactory(business_unit=unit, teams_enabled=False)
    account = make_account()

    disabled = account_delete(actor=administrator, account=account)

    assert disabled == 3
    assert not Agent.objects.filter(teams_enabled=True).exists()
    entry = AuditEntry.objects.get(action="account.delete")
    assert "Teams integration disabled for 3 agents" in entry.summary


# --- who may do what ----------------------------------------------------------------------


def test_a_supervisor_may_view_map_and_toggle(supervisor_client, unit):
    agent = AgentFactory(business_unit=unit)
    user = DirectoryUserFactory()

    mapping_page = supervisor_client.get(reverse("accounts:mapping")).content.decode()
    assert supervisor_client.get(reverse("accounts:directory")).status_code == 200
    assert supervisor_client.get(reverse("accounts:automap", args=[unit.pk])).status_code == 200
    assert supervisor_client.get(reverse("accounts:remap", args=[agent.pk])).status_code == 200
    supervisor_client.post(
        reverse("accounts:remap", args=[agent.pk]), {"user": user.graph_id, "confirm": "yes"}
    )
    supervisor_client.post(
        reverse("accounts:mapping_bulk"), {"action": "disable", "agent": [agent.pk]}
    )

    assert _mapped_to(agent) == user.graph_id
    assert Agent.objects.get(pk=agent.pk).teams_enabled is False
    assert "Import agents (CSV)" not in mapping_page
    assert f"Auto-map {unit.name}" in mapping_page


def test_a_supervisor_may_not_import_agents_or_change_the_sync_schedule(supervisor_client):
    from django.core.files.uploadedfile import SimpleUploadedFile

    csv_file = SimpleUploadedFile("a.csv", b"external_id,name,email,business_unit\n")
    assert supervisor_client.get(reverse("accounts:agents_import")).status_code == 403
    assert (
        supervisor_client.post(reverse("accounts:agents_import"), {"file": csv_file}).status_code
        == 403
    )
    response = supervisor_client.post(
        reverse("accounts:directory_interval"), {"interval_minutes": 5}
    )
    assert response.status_code == 403
    page = supervisor_client.get(reverse("accounts:directory")).content.decode()
    assert "Save schedule" not in page


def test_an_administrator_sees_the_import_link_and_the_schedule_form(administrator_client):
    assert (
        "Import agents (CSV)"
        in administrator_client.get(reverse("accounts:mapping")).content.decode()
    )
    assert (
        "Save schedule" in administrator_client.get(reverse("accounts:directory")).content.decode()
    )


@pytest.mark.parametrize(
    ("method", "name", "args"),
    [
        ("get", "accounts:directory", []),
        ("post", "accounts:directory_sync", []),
        ("post", "accounts:directory_interval", []),
        ("get", "accounts:mapping", []),
        ("post", "accounts:mapping_bulk", []),
        ("get", "accounts:automap", [1]),
        ("get", "accounts:remap", [1]),
        ("get", "accounts:agents_import", []),
    ],
)
def test_anonymous_visitors_are_sent_to_sign_in(client, db, method, name, args):
    url = reverse(name, args=args)

    response = getattr(client, method)(url)

    assert response.status_code == 302
    assert response.url == f"{reverse('console:login')}?next={url}"
    assert not AgentMapping.objects.exists()
