"""Auto-mapping of contact-center agents to directory (Entra ID) users.

Pure functions over plain frozen values, with no ORM and no I/O, so every rule can be
tested exhaustively. :func:`propose` drives the auto-map review screen;
:func:`accounts.ranking.rank_candidates` drives the manual remap screen.

Rules, strongest first, with a constant confidence each:

=================  ==========  ==================================================
rule               confidence  the agent's email / name equals
=================  ==========  ==================================================
``MAIL``           100         the user's ``mail``
``UPN``            95          the user's ``userPrincipalName``
``OTHER_MAIL``     85          one of the user's ``otherMails``
``PROXY_ADDRESS``  80          one of the user's ``smtp:`` ``proxyAddresses``
``NAME``           60          the user's ``displayName``, normalised
``FUZZY_NAME``     38-50       (remap screen only) a similar display name
=================  ==========  ==================================================

Decisions:

- Emails are compared trimmed and lower-cased, with any ``smtp:`` prefix removed. A
  value without ``@`` is not an email (placeholders like ``"-"`` or ``"n/a"`` must not
  match each other). Only ``smtp:`` proxy addresses count; ``SIP:``, ``X500:`` and the
  rest are not mailboxes.
- Names are compared after :func:`normalise_name`, *in token order*. "Last, First" is
  reordered to "First Last" (a common directory convention), but no other reordering
  is done: "Thomas Paul" and "Paul Thomas" are plausibly two people in a large tenant,
  and a wrong automatic mapping sends one person's presence to another. Reordered
  names still reach the admin through ``FUZZY_NAME`` on the remap screen, where the
  comparison ignores order.
- Removed users are never candidates. Disabled users are (the account may be
  re-enabled, and the review screen shows it) but at 30 less confidence and with the
  reason saying so; they still win on rule precedence, so a disabled user matched by
  mail is chosen over an enabled one matched by proxy address, for the admin to see.
- Ambiguity is never resolved silently: several users at the agent's best rule, or a
  chosen user who is also among the best candidates of another agent, make the
  proposal AMBIGUOUS (with no ``chosen``) for every agent involved.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from enum import StrEnum

__all__ = [
    "HOW_MATCHED",
    "AgentRef",
    "Candidate",
    "MatchRule",
    "MatchStatus",
    "Proposal",
    "UserRef",
    "normalise_email",
    "normalise_name",
    "propose",
]


class MatchRule(StrEnum):
    """How a candidate matched, strongest first (definition order is precedence)."""

    MAIL = "mail"
    UPN = "upn"
    OTHER_MAIL = "other_mail"
    PROXY_ADDRESS = "proxy_address"
    NAME = "name"
    FUZZY_NAME = "fuzzy_name"


class MatchStatus(StrEnum):
    """MATCHED: one user to apply if the admin includes it; AMBIGUOUS: the admin picks."""

    MATCHED = "matched"
    AMBIGUOUS = "ambiguous"
    NONE = "none"


CONFIDENCE: dict[MatchRule, int] = {
    MatchRule.MAIL: 100,
    MatchRule.UPN: 95,
    MatchRule.OTHER_MAIL: 85,
    MatchRule.PROXY_ADDRESS: 80,
    MatchRule.NAME: 60,
    MatchRule.FUZZY_NAME: 50,  # the ceiling; scaled by similarity
}
DISABLED_PENALTY = 30

_PRECEDENCE = {rule: position for position, rule in enumerate(MatchRule)}
_REASON = {
    MatchRule.MAIL: "Email matches the user's mail ({})",
    MatchRule.UPN: "Email matches the user's user principal name ({})",
    MatchRule.OTHER_MAIL: "Email matches one of the user's other mail addresses ({})",
    MatchRule.PROXY_ADDRESS: "Email matches one of the user's proxy addresses ({})",
    MatchRule.NAME: "Name matches the user's display name ({})",
}
_RULE_LABEL = {
    MatchRule.MAIL: "mail",
    MatchRule.UPN: "user principal name",
    MatchRule.OTHER_MAIL: "other mail address",
    MatchRule.PROXY_ADDRESS: "proxy address",
    MatchRule.NAME: "display name",
}

# How a stored mapping was found, in the words of the mapping screen.
HOW_MATCHED = {
    MatchRule.MAIL: "Matched by mail",
    MatchRule.UPN: "Matched by user principal name",
    MatchRule.OTHER_MAIL: "Matched by another mail address",
    MatchRule.PROXY_ADDRESS: "Matched by a proxy address",
    MatchRule.NAME: "Matched by display name",
    MatchRule.FUZZY_NAME: "Matched by a similar name",
}


@dataclass(frozen=True)
class AgentRef:
    """A contact-center agent: ``email`` may be empty; ``name`` is the display name."""

    id: int
    email: str
    name: str


@dataclass(frozen=True)
class UserRef:
    """A directory user as Graph describes it (``id`` is the object's GUID)."""

    id: str
    display_name: str
    mail: str | None
    user_principal_name: str
    other_mails: tuple[str, ...] = ()
    proxy_addresses: tuple[str, ...] = ()
    enabled: bool = True
    removed: bool = False


@dataclass(frozen=True)
class Candidate:
    """A directory user proposed for an agent: how, why (a sentence for the admin), and
    how sure we are (0-100)."""

    user_id: str
    rule: MatchRule
    reason: str
    confidence: int


@dataclass(frozen=True)
class Proposal:
    """One agent's auto-map outcome. ``candidates`` are ranked, best first; ``chosen``
    is set only when MATCHED. ``note`` says why a proposal is AMBIGUOUS or NONE."""

    agent_id: int
    status: MatchStatus
    candidates: tuple[Candidate, ...]
    chosen: Candidate | None
    note: str = ""


# --- normalisation -------------------------------------------------------------------

# Hyphens, underscores, dots, commas and apostrophes all separate name parts the way a
# space does ("García-López", "O'Brien", "j.smith"); typographic ones only in non-ASCII text.
_ASCII_SEPARATORS = "-_.,'`"
_TYPOGRAPHIC_SEPARATORS = "\u2010\u2011\u2012\u2013\u2014\u2015\u2018\u2019\u02bc"
# Letters NFKD leaves whole: without these "Søren Łukasz" would never equal "Soren Lukasz".
_UNDECOMPOSED = str.maketrans(
    {"ø": "o", "đ": "d", "ð": "d", "ł": "l", "ħ": "h", "\u0131": "i"}  # \u0131: dotless i
    | {"æ": "ae", "œ": "oe", "þ": "th", "ß": "ss"}
)


def normalise_email(value: str | None) -> str:
    """The comparable form of an address: trimmed, ``smtp:`` prefix removed, lower-case.
    Returns ``""`` for a missing value or one without ``@``, which never matches."""
    if not value:
        return ""
    address = value.strip().lower()
    if address.startswith("smtp:"):
        address = address[5:].lstrip()
    return address if "@" in address else ""


def normalise_name(value: str) -> str:
    """The comparable form of a display name: accents stripped, case-folded,
    separators as single spaces, and "Last, First" turned into "first last".
    A name with several commas ("Smith, John, Jr.") is left in its order."""
    text = value.strip()
    if not text.isascii():
        text = _strip_marks(unicodedata.normalize("NFKD", text))  # also folds full-width commas
    if text.count(",") == 1:
        last, first = text.split(",")
        text = f"{first} {last}"
    text = text.casefold()
    separators = _ASCII_SEPARATORS
    if not text.isascii():
        text = text.translate(_UNDECOMPOSED)
        separators += _TYPOGRAPHIC_SEPARATORS
    # str.replace per separator is twice as fast as one regex here, the hot spot at scale.
    for separator in separators:
        text = text.replace(separator, " ")
    return " ".join(text.split())


# The accents of Latin, Greek and Cyrillic letters, by far the commonest case, in one
# cheap regex pass; anything else non-ASCII goes through the general (slower) test.
_COMMON_MARKS = re.compile("[\u0300-\u036f]+")


def _strip_marks(decomposed: str) -> str:
    text = _COMMON_MARKS.sub("", decomposed)
    if text.isascii():
        return text
    return "".join(char for char in text if not unicodedata.combining(char))


def _shown(rule: MatchRule, value: str) -> str:
    """An address as the admin knows it. Proxy addresses keep their prefix: "SMTP:"
    (primary) against "smtp:" (alias) tells the admin which one it is."""
    address = value.strip()
    if rule is not MatchRule.PROXY_ADDRESS and address[:5].lower() == "smtp:":
        return address[5:].lstrip()
    return address


# --- candidates ----------------------------------------------------------------------


def _candidate(user: UserRef, rule: MatchRule, reason: str, confidence: int) -> Candidate:
    if not user.enabled:
        reason = f"{reason}; the directory user is disabled"
        confidence -= DISABLED_PENALTY
    return Candidate(user.id, rule, reason, confidence)


def _rule_candidate(user: UserRef, rule: MatchRule, value: str) -> Candidate:
    return _candidate(user, rule, _REASON[rule].format(_shown(rule, value)), CONFIDENCE[rule])


def _eligible(users: Iterable[UserRef], mapped_users: AbstractSet[str]) -> list[UserRef]:
    """The users that may be candidates: not removed, not mapped, each id once (the first)."""
    eligible: dict[str, UserRef] = {}
    for user in users:
        if not user.removed and user.id not in mapped_users:
            eligible.setdefault(user.id, user)
    return list(eligible.values())


_Hit = tuple[UserRef, MatchRule, str]  # the user, how it matched, the value that matched


def _email_hits(users: Iterable[UserRef], wanted: AbstractSet[str]) -> dict[str, list[_Hit]]:
    """Each wanted address (normalised, as :func:`normalise_email` makes them) → the users
    holding it, each once, at its strongest rule.

    This runs once per address in the directory, so it is written for speed: only wanted
    addresses are kept, :func:`normalise_email` is inlined (``wanted`` implies the ``@``
    test), and a value's rule is worked out from its position only when it is a hit.
    """
    hits: dict[str, list[_Hit]] = {}
    for user in users:
        # Strongest rule first, so a user's first hit on an address is its best one.
        values = (user.mail, user.user_principal_name, *user.other_mails, *user.proxy_addresses)
        proxies_start = 2 + len(user.other_mails)
        for position, value in enumerate(values):
            if not value:
                continue
            address = value.strip().lower()
            if address.startswith("smtp:"):
                address = address[5:].lstrip()
            elif position >= proxies_start:
                continue  # SIP:, X500:, EUM: ... proxy addresses are not mailboxes
            if address in wanted:
                found = hits.setdefault(address, [])
                # A user's addresses are visited together: a repeat is the last hit.
                if not found or found[-1][0] is not user:
                    found.append((user, _rule_at(position, proxies_start), value))
    return hits


def _rule_at(position: int, proxies_start: int) -> MatchRule:
    """The rule of the value at ``position`` in :func:`_email_hits`' list of a user's
    addresses: mail, UPN, the otherMails, then the proxyAddresses."""
    if position == 0:
        return MatchRule.MAIL
    if position == 1:
        return MatchRule.UPN
    return MatchRule.OTHER_MAIL if position < proxies_start else MatchRule.PROXY_ADDRESS


def _name_hits(users: Iterable[UserRef], wanted: AbstractSet[str]) -> dict[str, list[_Hit]]:
    """Each wanted normalised name → the users whose display name normalises to it."""
    hits: dict[str, list[_Hit]] = {}
    if not wanted:
        return hits  # normalising every display name is the dearest step: skip it if we can
    for user in users:
        name = normalise_name(user.display_name)
        if name in wanted:
            hits.setdefault(name, []).append((user, MatchRule.NAME, user.display_name))
    return hits


def _ranked_candidates(hits: Sequence[_Hit]) -> tuple[Candidate, ...]:
    """Candidates from hits, by rule precedence, then confidence, then display name."""
    if len(hits) < 2:  # the common cases, with nothing to rank
        return (_rule_candidate(*hits[0]),) if hits else ()
    candidates = [(user, _rule_candidate(user, rule, value)) for user, rule, value in hits]
    candidates.sort(key=_proposal_rank)
    return tuple(candidate for _, candidate in candidates)


def _proposal_rank(item: tuple[UserRef, Candidate]) -> tuple[int, int, str, str]:
    user, candidate = item
    rank = _PRECEDENCE[candidate.rule]
    return rank, -candidate.confidence, user.display_name.casefold(), user.id


def _best(candidates: tuple[Candidate, ...]) -> tuple[Candidate, ...]:
    """The candidates at the strongest rule present (they are ranked, best first)."""
    if len(candidates) < 2:
        return candidates
    return tuple(c for c in candidates if c.rule is candidates[0].rule)


# --- the auto-map screen ---------------------------------------------------------------


def propose(
    agents: Iterable[AgentRef],
    users: Iterable[UserRef],
    *,
    mapped_agents: AbstractSet[int] = frozenset(),
    mapped_users: AbstractSet[str] = frozenset(),
) -> list[Proposal]:
    """Propose a directory user for each unmapped agent, for the admin to review.

    Agents in ``mapped_agents`` are skipped; users in ``mapped_users`` and removed users
    are never candidates. Only the strongest rule that found anyone counts, and names are
    tried only when no email rule found a candidate.

    Returns one :class:`Proposal` per unmapped agent, in input order (an agent id given
    twice is proposed once, from its first occurrence). MATCHED means exactly one
    candidate at the best rule and no other agent has that user among its best.
    Runs in time linear in agents + users.
    """
    pending: dict[int, AgentRef] = {}
    for agent in agents:
        if agent.id not in mapped_agents:
            pending.setdefault(agent.id, agent)
    eligible = _eligible(users, mapped_users)

    emails = {agent_id: normalise_email(agent.email) for agent_id, agent in pending.items()}
    by_email = _email_hits(eligible, set(emails.values()) - {""})
    # Names only for the agents no email rule found anyone for.
    names = {
        agent_id: normalise_name(agent.name)
        for agent_id, agent in pending.items()
        if emails[agent_id] not in by_email
    }
    by_name = _name_hits(eligible, set(names.values()) - {""})

    drafts = {
        agent_id: _ranked_candidates(
            by_email.get(emails[agent_id]) or by_name.get(names.get(agent_id, ""), ())
        )
        for agent_id in pending
    }
    # How many agents have each user among their best candidates.
    claims = Counter(c.user_id for candidates in drafts.values() for c in _best(candidates))
    return [_decide(agent_id, candidates, claims) for agent_id, candidates in drafts.items()]


def _decide(agent_id: int, ranked: tuple[Candidate, ...], claims: Counter[str]) -> Proposal:
    best = _best(ranked)
    if not best:
        note = "No directory user matches the agent's email or name."
        return Proposal(agent_id, MatchStatus.NONE, ranked, None, note)
    if len(best) > 1:
        note = f"{len(best)} directory users match by {_RULE_LABEL[best[0].rule]}."
        return Proposal(agent_id, MatchStatus.AMBIGUOUS, ranked, None, note)
    others = claims[best[0].user_id] - 1
    if others:
        note = f"The user is also the best match for {others} other agent(s)."
        return Proposal(agent_id, MatchStatus.AMBIGUOUS, ranked, None, note)
    return Proposal(agent_id, MatchStatus.MATCHED, ranked, best[0])
