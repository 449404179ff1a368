"""accounts.matching and accounts.ranking: auto-map proposals (propose) and the manual
remap list (rank_candidates). Pure functions: no database, no Graph."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accounts.matching import (
    AgentRef,
    Candidate,
    MatchRule,
    MatchStatus,
    Proposal,
    UserRef,
    normalise_email,
    normalise_name,
    propose,
)
from accounts.ranking import rank_candidates
from tests.plugins.hypothesis_profiles import examples

_ids = itertools.count(1)


def user(
    display_name: str = "Someone Else",
    *,
    id: str | None = None,
    mail: str | None = None,
    upn: str | None = None,
    other_mails: tuple[str, ...] = (),
    proxies: tuple[str, ...] = (),
    enabled: bool = True,
    removed: bool = False,
) -> UserRef:
    """A directory user that matches nothing unless told to."""
    id = id or f"00000000-0000-0000-0000-{next(_ids):012d}"
    return UserRef(
        id=id,
        display_name=display_name,
        mail=mail,
        user_principal_name=upn or f"u{id[-6:]}@tenant.onmicrosoft.com",
        other_mails=other_mails,
        proxy_addresses=proxies,
        enabled=enabled,
        removed=removed,
    )


def agent(email: str = "", name: str = "", *, id: int = 1) -> AgentRef:
    return AgentRef(id=id, email=email, name=name)


def only(proposals: list[Proposal]) -> Proposal:
    assert len(proposals) == 1
    return proposals[0]


def user_ids(candidates: tuple[Candidate, ...] | list[Candidate]) -> list[str]:
    return [c.user_id for c in candidates]


# --- each rule -----------------------------------------------------------------------


def test_agent_email_matches_the_users_mail() -> None:
    ana = user("Ana Ruiz", mail="Ana.Ruiz@contoso.com")
    proposal = only(propose([agent("ana.ruiz@contoso.com")], [ana]))
    assert proposal.status is MatchStatus.MATCHED
    assert proposal.chosen == Candidate(
        ana.id, MatchRule.MAIL, "Email matches the user's mail (Ana.Ruiz@contoso.com)", 100
    )
    assert proposal.candidates == (proposal.chosen,)


def test_agent_email_matches_the_user_principal_name() -> None:
    ana = user(mail=None, upn="ana@contoso.com")
    chosen = only(propose([agent("ana@contoso.com")], [ana])).chosen
    assert chosen is not None
    assert (chosen.user_id, chosen.rule, chosen.confidence) == (ana.id, MatchRule.UPN, 95)
    assert "user principal name (ana@contoso.com)" in chosen.reason


def test_agent_email_matches_one_of_the_other_mails() -> None:
    ana = user(other_mails=("ana@fabrikam.com", "ana.ruiz@gmail.com"))
    chosen = only(propose([agent("ana.ruiz@gmail.com")], [ana])).chosen
    assert chosen is not None
    assert (chosen.rule, chosen.confidence) == (MatchRule.OTHER_MAIL, 85)
    assert "other mail addresses (ana.ruiz@gmail.com)" in chosen.reason


@pytest.mark.parametrize(
    "proxy", ["SMTP:ana@contoso.com", "smtp:ana@contoso.com", "Smtp:ana@contoso.com"]
)
def test_agent_email_matches_an_smtp_proxy_address_primary_or_alias(proxy: str) -> None:
    ana = user(proxies=("SIP:ana@contoso.com", proxy))
    chosen = only(propose([agent("ana@contoso.com")], [ana])).chosen
    assert chosen is not None
    assert (chosen.rule, chosen.confidence) == (MatchRule.PROXY_ADDRESS, 80)
    # The prefix stays in the reason: SMTP: (primary) and smtp: (alias) mean different things.
    assert chosen.reason == f"Email matches one of the user's proxy addresses ({proxy})"


@pytest.mark.parametrize(
    "proxy", ["SIP:ana@contoso.com", "sip:ana@contoso.com", "X500:ana@contoso.com", "EUM:ana@x"]
)
def test_non_smtp_proxy_addresses_never_match(proxy: str) -> None:
    proposal = only(propose([agent("ana@contoso.com")], [user(proxies=(proxy,))]))
    assert proposal.status is MatchStatus.NONE
    assert proposal.candidates == ()


def test_a_proxy_address_without_prefix_is_not_an_smtp_address() -> None:
    proposal = only(propose([agent("ana@contoso.com")], [user(proxies=("ana@contoso.com",))]))
    assert proposal.status is MatchStatus.NONE


@pytest.mark.parametrize(
    ("agent_email", "user_mail"),
    [
        ("ANA@CONTOSO.COM", "ana@contoso.com"),
        ("  ana@contoso.com\t", "Ana@Contoso.com"),
        ("ana@contoso.com", "  ANA@contoso.COM "),
        ("smtp:ana@contoso.com", "ana@contoso.com"),
        ("SMTP: ana@contoso.com", "ana@contoso.com"),
    ],
)
def test_email_comparison_ignores_case_whitespace_and_smtp_prefix(
    agent_email: str, user_mail: str
) -> None:
    proposal = only(propose([agent(agent_email)], [user(mail=user_mail)]))
    assert proposal.status is MatchStatus.MATCHED


def test_the_reason_shows_the_address_as_the_directory_stores_it() -> None:
    chosen = only(propose([agent("ana@contoso.com")], [user(mail=" Ana@Contoso.com ")])).chosen
    assert chosen is not None
    assert chosen.reason == "Email matches the user's mail (Ana@Contoso.com)"


@pytest.mark.parametrize("email", ["", "   ", "-", "n/a"])
def test_an_empty_or_placeholder_email_never_matches(email: str) -> None:
    users = [user(mail=email, upn=email or "x@y", other_mails=(email,), proxies=(email,))]
    proposal = only(propose([agent(email, name="Nobody Here")], users))
    assert proposal.status is MatchStatus.NONE


def test_a_user_without_mail_is_still_found_by_other_rules() -> None:
    ana = user(mail=None, other_mails=("ana@contoso.com",))
    assert only(propose([agent("ana@contoso.com")], [ana])).status is MatchStatus.MATCHED


# --- names ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        ("María José García-López", "maria jose garcia lopez"),
        ("García-López, María José", "maria jose garcia lopez"),
        ("  MARIA   jose_garcia.lopez ", "maria jose garcia lopez"),
        ("O'Brien, Seán", "sean o brien"),
        ("D\u2019Angelo Smith", "d angelo smith"),
        ("Søren Łukasz Æbelø", "soren lukasz aebelo"),
        ("Straße", "strasse"),
        ("I\u015f\u0131k Y\u0131lmaz", "isik yilmaz"),  # dotless i
        ("Smith, John, Jr.", "smith john jr"),
        # Vowel marks beyond the Latin ones: vocalised Arabic and pointed Hebrew.
        ("\u0645\u064f\u062d\u064e\u0645\u0651\u064e\u062f", "\u0645\u062d\u0645\u062f"),
        ("\u05de\u05b9\u05e9\u05b6\u05c1\u05d4", "\u05de\u05e9\u05d4"),
        ("Ｚｏë　Ｎúñｅｚ", "zoe nunez"),  # full-width letters and ideographic space
        ("", ""),
        (" - . ", ""),
    ],
)
def test_normalise_name(raw: str, normalised: str) -> None:
    assert normalise_name(raw) == normalised


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        ("  Ana@Contoso.COM ", "ana@contoso.com"),
        ("SMTP:Ana@contoso.com", "ana@contoso.com"),
        ("smtp:ana@contoso.com", "ana@contoso.com"),
        ("SIP:ana@contoso.com", "sip:ana@contoso.com"),  # not ours to strip; never matches
        (None, ""),
        ("", ""),
        ("not-an-address", ""),
    ],
)
def test_normalise_email(raw: str | None, normalised: str) -> None:
    assert normalise_email(raw) == normalised


@pytest.mark.parametrize(
    ("agent_name", "display_name"),
    [
        ("María José García-López", "Maria Jose Garcia Lopez"),
        ("maria jose garcia lopez", "María José García-López"),
        ("García-López, María José", "María José García-López"),
        ("María José García-López", "García López, María José"),
        ("Sean O'Brien", "Seán O\u2019Brien"),  # typographic apostrophe
    ],
)
def test_normalised_display_names_match(agent_name: str, display_name: str) -> None:
    maria = user(display_name)
    chosen = only(propose([agent(name=agent_name)], [maria])).chosen
    assert chosen is not None
    assert (chosen.user_id, chosen.rule, chosen.confidence) == (maria.id, MatchRule.NAME, 60)
    assert chosen.reason == f"Name matches the user's display name ({display_name})"


def test_auto_map_does_not_reorder_names_without_a_comma() -> None:
    # "Thomas Paul" and "Paul Thomas" may be two people; only the remap screen suggests it.
    proposal = only(propose([agent(name="Paul Thomas")], [user("Thomas Paul")]))
    assert proposal.status is MatchStatus.NONE


def test_names_are_not_compared_when_an_email_rule_found_someone() -> None:
    by_proxy = user("Ana R.", proxies=("smtp:ana@contoso.com",))
    same_name = user("Ana Ruiz")
    proposal = only(propose([agent("ana@contoso.com", "Ana Ruiz")], [same_name, by_proxy]))
    assert proposal.status is MatchStatus.MATCHED
    assert user_ids(proposal.candidates) == [by_proxy.id]


def test_names_are_compared_when_the_email_matches_nobody() -> None:
    ana = user("Ana Ruiz", mail="ana.ruiz@contoso.com")
    proposal = only(propose([agent("ana@old-domain.com", "Ana Ruiz")], [ana]))
    assert proposal.chosen is not None
    assert proposal.chosen.rule is MatchRule.NAME


def test_an_empty_name_never_matches() -> None:
    proposal = only(propose([agent(name="")], [user(""), user(" ")]))
    assert proposal.status is MatchStatus.NONE


# --- precedence ----------------------------------------------------------------------

EMAIL_FIELDS = {
    MatchRule.MAIL: {"mail": "ana@contoso.com"},
    MatchRule.UPN: {"upn": "ana@contoso.com"},
    MatchRule.OTHER_MAIL: {"other_mails": ("ana@contoso.com",)},
    MatchRule.PROXY_ADDRESS: {"proxies": ("smtp:ana@contoso.com",)},
}


@pytest.mark.parametrize(
    ("stronger", "weaker"), list(itertools.combinations(EMAIL_FIELDS, 2)), ids=str
)
def test_the_stronger_email_rule_wins(stronger: MatchRule, weaker: MatchRule) -> None:
    # Named so that display-name order would favour the weaker match.
    strong = user("Zed", **EMAIL_FIELDS[stronger])
    weak = user("Abe", **EMAIL_FIELDS[weaker])
    proposal = only(propose([agent("ana@contoso.com")], [weak, strong]))
    assert proposal.status is MatchStatus.MATCHED
    assert proposal.chosen is not None
    assert (proposal.chosen.user_id, proposal.chosen.rule) == (strong.id, stronger)
    # The weaker match is still listed for the reviewer, after the chosen one.
    assert [(c.user_id, c.rule) for c in proposal.candidates] == [
        (strong.id, stronger),
        (weak.id, weaker),
    ]


def test_email_beats_name() -> None:
    by_mail = user("Someone Else", mail="ana@contoso.com")
    by_name = user("Ana Ruiz")
    proposal = only(propose([agent("ana@contoso.com", "Ana Ruiz")], [by_name, by_mail]))
    assert proposal.chosen is not None
    assert proposal.chosen.user_id == by_mail.id
    assert user_ids(proposal.candidates) == [by_mail.id]


def test_a_user_matching_several_rules_is_listed_once_at_its_strongest() -> None:
    ana = user(
        mail="ana@contoso.com",
        upn="ANA@contoso.com",
        other_mails=("ana@contoso.com",),
        proxies=("SMTP:ana@contoso.com", "smtp:ana@contoso.com"),
    )
    proposal = only(propose([agent("ana@contoso.com")], [ana]))
    assert proposal.status is MatchStatus.MATCHED
    assert [c.rule for c in proposal.candidates] == [MatchRule.MAIL]


# --- ambiguity -----------------------------------------------------------------------


def test_two_users_with_the_same_name_are_ambiguous() -> None:
    first, second = user("Ana Ruiz"), user("ANA RUIZ")
    proposal = only(propose([agent(name="Ana Ruiz")], [first, second]))
    assert proposal.status is MatchStatus.AMBIGUOUS
    assert proposal.chosen is None
    assert set(user_ids(proposal.candidates)) == {first.id, second.id}
    assert proposal.note == "2 directory users match by display name."


def test_two_users_sharing_an_other_mails_address_are_ambiguous() -> None:
    first = user("Ana Ruiz", other_mails=("team@contoso.com",))
    second = user("Bo Li", other_mails=("team@contoso.com",))
    proposal = only(propose([agent("team@contoso.com")], [second, first]))
    assert proposal.status is MatchStatus.AMBIGUOUS
    assert proposal.chosen is None
    # Ranked by display name within the rule.
    assert user_ids(proposal.candidates) == [first.id, second.id]


def test_one_user_best_for_two_agents_makes_both_ambiguous() -> None:
    shared = user("Support Desk", mail="support@contoso.com")
    agents = [agent("support@contoso.com", id=1), agent("SUPPORT@contoso.com", id=2)]
    proposals = propose(agents, [shared])
    assert [p.status for p in proposals] == [MatchStatus.AMBIGUOUS, MatchStatus.AMBIGUOUS]
    assert all(p.chosen is None for p in proposals)
    assert all(user_ids(p.candidates) == [shared.id] for p in proposals)
    assert proposals[0].note == "The user is also the best match for 1 other agent(s)."


def test_one_user_best_for_two_agents_by_different_rules_makes_both_ambiguous() -> None:
    ana = user("Ana Ruiz", mail="ana@contoso.com", proxies=("smtp:aruiz@contoso.com",))
    agents = [agent("ana@contoso.com", id=1), agent("aruiz@contoso.com", id=2)]
    statuses = [p.status for p in propose(agents, [ana])]
    assert statuses == [MatchStatus.AMBIGUOUS, MatchStatus.AMBIGUOUS]


def test_a_chosen_user_among_another_agents_ambiguous_best_is_not_applied() -> None:
    ana = user("Ana Ruiz", mail="ana@contoso.com")
    namesake = user("Ana Ruiz")
    agents = [agent("ana@contoso.com", id=1), agent(name="Ana Ruiz", id=2)]
    first, second = propose(agents, [ana, namesake])
    assert first.status is MatchStatus.AMBIGUOUS
    assert first.chosen is None
    assert user_ids(first.candidates) == [ana.id]
    assert second.status is MatchStatus.AMBIGUOUS


def test_a_weaker_candidate_of_another_agent_does_not_contest_a_match() -> None:
    ana = user("Ana Ruiz", mail="ana@contoso.com", proxies=("smtp:team@contoso.com",))
    team = user("Team Inbox", mail="team@contoso.com")
    agents = [agent("ana@contoso.com", id=1), agent("team@contoso.com", id=2)]
    first, second = propose(agents, [ana, team])
    # Agent 2's best is the team mailbox by mail; Ana is only its proxy-address candidate.
    assert first.status is MatchStatus.MATCHED
    assert second.status is MatchStatus.MATCHED
    assert second.chosen is not None
    assert second.chosen.user_id == team.id
    assert user_ids(second.candidates) == [team.id, ana.id]


def test_mapped_agents_get_no_proposal() -> None:
    ana = user(mail="ana@contoso.com")
    agents = [agent("ana@contoso.com", id=1), agent("bo@contoso.com", id=2)]
    proposals = propose(agents, [ana], mapped_agents={1})
    assert [p.agent_id for p in proposals] == [2]


def test_mapped_users_are_never_candidates() -> None:
    ana = user(mail="ana@contoso.com")
    proposal = only(propose([agent("ana@contoso.com")], [ana], mapped_users={ana.id}))
    assert proposal.status is MatchStatus.NONE
    assert proposal.candidates == ()


def test_a_mapped_agent_does_not_contest_its_user() -> None:
    shared = user(mail="support@contoso.com")
    agents = [agent("support@contoso.com", id=1), agent("support@contoso.com", id=2)]
    proposal = only(propose(agents, [shared], mapped_agents={1}))
    assert proposal.status is MatchStatus.MATCHED


def test_a_mapped_namesake_leaves_the_other_user_matched() -> None:
    mapped, free = user("Ana Ruiz"), user("Ana Ruiz")
    proposal = only(propose([agent(name="Ana Ruiz")], [mapped, free], mapped_users={mapped.id}))
    assert proposal.status is MatchStatus.MATCHED
    assert user_ids(proposal.candidates) == [free.id]


def test_an_agent_given_twice_gets_one_proposal() -> None:
    ana = user(mail="ana@contoso.com")
    proposals = propose([agent("ana@contoso.com", id=7), agent("ana@contoso.com", id=7)], [ana])
    assert [(p.agent_id, p.status) for p in proposals] == [(7, MatchStatus.MATCHED)]


def test_proposals_come_in_agent_order_with_none_for_unmatched() -> None:
    ana = user(mail="ana@contoso.com")
    agents = [agent("x@contoso.com", id=3), agent("ana@contoso.com", id=1), agent(id=2)]
    proposals = propose(agents, [ana])
    assert [(p.agent_id, p.status) for p in proposals] == [
        (3, MatchStatus.NONE),
        (1, MatchStatus.MATCHED),
        (2, MatchStatus.NONE),
    ]
    assert proposals[0].note == "No directory user matches the agent's email or name."


# --- removed and disabled users ------------------------------------------------------


def test_removed_users_are_never_candidates() -> None:
    gone = user("Ana Ruiz", mail="ana@contoso.com", removed=True)
    assert only(propose([agent("ana@contoso.com", "Ana Ruiz")], [gone])).status is (
        MatchStatus.NONE
    )


def test_a_removed_namesake_does_not_make_a_match_ambiguous() -> None:
    live, gone = user("Ana Ruiz"), user("Ana Ruiz", removed=True)
    proposal = only(propose([agent(name="Ana Ruiz")], [gone, live]))
    assert proposal.chosen is not None
    assert proposal.chosen.user_id == live.id


def test_a_disabled_user_is_proposed_with_less_confidence_and_says_so() -> None:
    ana = user(mail="ana@contoso.com", enabled=False)
    proposal = only(propose([agent("ana@contoso.com")], [ana]))
    assert proposal.status is MatchStatus.MATCHED
    assert proposal.chosen is not None
    assert proposal.chosen.confidence == 70
    assert proposal.chosen.reason == (
        "Email matches the user's mail (ana@contoso.com); the directory user is disabled"
    )


def test_disabled_and_enabled_users_at_the_same_rule_are_ambiguous_enabled_first() -> None:
    disabled = user("Abe", mail="ana@contoso.com", enabled=False)
    enabled = user("Zed", mail="ana@contoso.com")
    proposal = only(propose([agent("ana@contoso.com")], [disabled, enabled]))
    assert proposal.status is MatchStatus.AMBIGUOUS
    assert [(c.user_id, c.confidence) for c in proposal.candidates] == [
        (enabled.id, 100),
        (disabled.id, 70),
    ]


def test_rule_precedence_still_decides_for_a_disabled_user() -> None:
    disabled = user(mail="ana@contoso.com", enabled=False)
    alias = user(proxies=("smtp:ana@contoso.com",))
    proposal = only(propose([agent("ana@contoso.com")], [alias, disabled]))
    assert proposal.chosen is not None
    assert proposal.chosen.user_id == disabled.id


# --- rank_candidates -----------------------------------------------------------------


def test_rank_candidates_lists_every_rule_by_confidence() -> None:
    ana = agent("ana@contoso.com", "Ana Ruiz")
    by_mail = user("Ana Ruiz", mail="ana@contoso.com")
    by_proxy = user("Shared Inbox", proxies=("smtp:ana@contoso.com",))
    by_name = user("Ana Ruiz")
    reordered = user("Ruiz Ana")
    typo = user("Anna Ruiz")
    unrelated = user("Bo Li")
    ranked = rank_candidates(ana, [unrelated, typo, reordered, by_name, by_proxy, by_mail])
    assert [(c.user_id, c.rule) for c in ranked] == [
        (by_mail.id, MatchRule.MAIL),
        (by_proxy.id, MatchRule.PROXY_ADDRESS),
        (by_name.id, MatchRule.NAME),
        (reordered.id, MatchRule.FUZZY_NAME),
        (typo.id, MatchRule.FUZZY_NAME),
    ]
    assert [c.confidence for c in ranked][:3] == [100, 80, 60]
    assert ranked[3].confidence == 50
    assert ranked[3].reason == (
        "Name has the same parts as the user's display name, in another order (Ruiz Ana)"
    )
    assert ranked[4].confidence == 47
    assert ranked[4].reason.startswith("Name is 94% similar to the user's display name")


def test_rank_candidates_leaves_out_mapped_and_removed_users() -> None:
    mapped = user("Ana Ruiz", mail="ana@contoso.com")
    removed = user("Ana Ruiz", removed=True)
    free = user("Ana Ruiz")
    ranked = rank_candidates(
        agent("ana@contoso.com", "Ana Ruiz"), [mapped, removed, free], mapped_users={mapped.id}
    )
    assert user_ids(ranked) == [free.id]


def test_rank_candidates_keeps_disabled_users_lower() -> None:
    disabled = user("Ana Ruiz", mail="ana@contoso.com", enabled=False)
    alias = user("Zed", other_mails=("ana@contoso.com",))
    ranked = rank_candidates(agent("ana@contoso.com"), [disabled, alias])
    assert [(c.user_id, c.confidence) for c in ranked] == [(alias.id, 85), (disabled.id, 70)]
    assert ranked[1].reason.endswith("; the directory user is disabled")


def test_rank_candidates_breaks_ties_by_display_name_then_id() -> None:
    users = [user("bo li", id="c"), user("Bo Li", id="b"), user("Bo Li", id="a")]
    ranked = rank_candidates(agent(name="Bo Li"), users)
    assert user_ids(ranked) == ["a", "b", "c"]


def test_rank_candidates_suggests_a_fuller_form_of_the_name() -> None:
    full = user("María José García-López")
    ranked = rank_candidates(agent(name="Maria Garcia"), [full])
    assert [(c.user_id, c.rule, c.confidence) for c in ranked] == [
        (full.id, MatchRule.FUZZY_NAME, 45)
    ]
    assert ranked[0].reason == (
        "Name shares all the parts of the shorter name with the user's display name"
        " (María José García-López)"
    )


def test_rank_candidates_tells_a_repeated_part_from_a_reordering() -> None:
    ranked = rank_candidates(agent(name="María García"), [user("María García García")])
    assert [c.confidence for c in ranked] == [45]  # a fuller form, not the same name


@pytest.mark.parametrize(
    ("agent_name", "display_name"),
    [
        ("Ana Smith", "Carol Smith"),
        ("Ana Smith", "Smith"),
        ("Ana Smith", "Bartholomew Kowalczyk"),
        ("Nora Lee", "Aron Lee"),  # the same letters and a shared part, another name
        ("Jon Smyth", "John Smith"),  # no part in common: left to the search box
    ],
)
def test_rank_candidates_ignores_names_sharing_too_little(
    agent_name: str, display_name: str
) -> None:
    assert rank_candidates(agent(name=agent_name), [user(display_name)]) == []


def test_rank_candidates_respects_the_limit() -> None:
    users = [user("Ana Ruiz") for _ in range(5)]
    assert len(rank_candidates(agent(name="Ana Ruiz"), users, limit=3)) == 3
    assert rank_candidates(agent(name="Ana Ruiz"), users, limit=0) == []


def test_rank_candidates_for_an_agent_without_email_or_name_is_empty() -> None:
    assert rank_candidates(agent(), [user(""), user("Ana Ruiz", mail="ana@contoso.com")]) == []


# --- properties ----------------------------------------------------------------------

# Few distinct values, so that collisions (shared addresses, namesakes) are common.
EMAILS = ["ana@x.com", "ANA@x.com ", "bo@x.com", "cy@x.com", "smtp:bo@x.com", "", "-"]
PROXIES = ["SMTP:ana@x.com", "smtp:bo@x.com", "smtp:cy@x.com", "SIP:ana@x.com", "X500:/o=x"]
NAMES = ["Ana Ruiz", "ana ruiz", "Ruiz, Ana", "Ruiz Ana", "Bo Li", "Bö-Li", "Cy", ""]
USER_IDS = [f"00000000-0000-0000-0000-{n:012d}" for n in range(8)]
AGENT_IDS = range(6)

users_strategy = st.lists(
    st.builds(
        UserRef,
        id=st.sampled_from(USER_IDS),
        display_name=st.sampled_from(NAMES),
        mail=st.none() | st.sampled_from(EMAILS),
        user_principal_name=st.sampled_from([*EMAILS, "u@tenant.onmicrosoft.com"]),
        other_mails=st.lists(st.sampled_from(EMAILS), max_size=2).map(tuple),
        proxy_addresses=st.lists(st.sampled_from(PROXIES), max_size=3).map(tuple),
        enabled=st.booleans(),
        removed=st.booleans(),
    ),
    max_size=7,
    unique_by=lambda u: u.id,
)
agents_strategy = st.lists(
    st.builds(
        AgentRef,
        id=st.sampled_from(AGENT_IDS),
        email=st.sampled_from(EMAILS),
        name=st.sampled_from(NAMES),
    ),
    max_size=7,
)
mapped_agents_strategy = st.frozensets(st.sampled_from(AGENT_IDS), max_size=2)
mapped_users_strategy = st.frozensets(st.sampled_from(USER_IDS), max_size=2)
properties = settings(max_examples=examples(200), deadline=None)


@properties
@given(agents_strategy, users_strategy)
def test_property_no_user_is_chosen_for_two_matched_agents(agents, users) -> None:
    chosen = [p.chosen.user_id for p in propose(agents, users) if p.chosen is not None]
    assert len(chosen) == len(set(chosen))


@properties
@given(agents_strategy, users_strategy, mapped_agents_strategy)
def test_property_each_unmapped_agent_gets_exactly_one_proposal_in_order(
    agents, users, mapped_agents
) -> None:
    proposals = propose(agents, users, mapped_agents=mapped_agents)
    expected = list(dict.fromkeys(a.id for a in agents if a.id not in mapped_agents))
    assert [p.agent_id for p in proposals] == expected


@properties
@given(agents_strategy, users_strategy, mapped_agents_strategy, mapped_users_strategy)
def test_property_mapped_and_removed_never_appear(
    agents, users, mapped_agents, mapped_users
) -> None:
    proposals = propose(agents, users, mapped_agents=mapped_agents, mapped_users=mapped_users)
    removed = {u.id for u in users if u.removed}
    assert not {p.agent_id for p in proposals} & mapped_agents
    listed = {c.user_id for p in proposals for c in p.candidates}
    assert not listed & (mapped_users | removed)


@properties
@given(agents_strategy, users_strategy, st.randoms(use_true_random=False))
def test_property_user_order_does_not_change_the_outcome(agents, users, random) -> None:
    shuffled = list(users)
    random.shuffle(shuffled)
    assert propose(agents, shuffled) == propose(agents, users)


@properties
@given(agents_strategy, users_strategy)
def test_property_a_match_is_the_one_candidate_at_the_best_rule(agents, users) -> None:
    precedence = list(MatchRule)
    for proposal in propose(agents, users):
        if proposal.status is MatchStatus.NONE:
            assert proposal.candidates == ()
        if proposal.status is not MatchStatus.MATCHED:
            assert proposal.chosen is None
            continue
        assert proposal.chosen in proposal.candidates
        best = min(precedence.index(c.rule) for c in proposal.candidates)
        at_best = [c for c in proposal.candidates if precedence.index(c.rule) == best]
        assert at_best == [proposal.chosen]


@properties
@given(agents_strategy, users_strategy, mapped_users_strategy)
def test_property_rank_candidates_lists_every_proposed_candidate(
    agents, users, mapped_users
) -> None:
    by_agent = {a.id: a for a in reversed(agents)}  # the first occurrence is the one proposed
    for proposal in propose(agents, users, mapped_users=mapped_users):
        ranked = rank_candidates(
            by_agent[proposal.agent_id], users, mapped_users=mapped_users, limit=len(users)
        )
        assert set(proposal.candidates) <= set(ranked)
        confidences = [c.confidence for c in ranked]
        assert confidences == sorted(confidences, reverse=True)
        assert not {c.user_id for c in ranked} & mapped_users
