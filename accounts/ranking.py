"""Ranking of directory users for one agent, for the manual remap screen.

Every rule of :mod:`accounts.matching` applies, plus ``FUZZY_NAME``: users matching by
no rule are compared by name, ignoring token order, and listed when similar enough.
Pure functions over the same frozen values, with no ORM and no I/O.
"""

from __future__ import annotations

import difflib
import heapq
from collections.abc import Iterable
from collections.abc import Set as AbstractSet

from accounts.matching import (
    CONFIDENCE,
    AgentRef,
    Candidate,
    MatchRule,
    UserRef,
    _candidate,
    _eligible,
    _email_hits,
    _rule_candidate,
    normalise_email,
    normalise_name,
)

__all__ = ["FUZZY_THRESHOLD", "SUBSET_SIMILARITY", "rank_candidates"]

# Below this similarity two names share too little to be worth an admin's glance:
# "Ana Smith" and "Carol Smith" (0.70) stay out, "Ana Ruiz" and "Anna Ruiz" (0.94) come in.
FUZZY_THRESHOLD = 0.75
# A name made of some of the other's parts: below a reordering, above most typos.
SUBSET_SIMILARITY = 0.9


def rank_candidates(
    agent: AgentRef,
    users: Iterable[UserRef],
    *,
    mapped_users: AbstractSet[str] = frozenset(),
    limit: int = 20,
) -> list[Candidate]:
    """Rank possible directory users for one agent, for the manual remap screen.

    Every user matching by any rule is listed once, at its strongest rule; users matching
    by none are compared by name (see :class:`_NameSimilarity`) and listed as FUZZY_NAME
    when at least ``FUZZY_THRESHOLD`` similar, confidence scaled by the similarity.
    Removed users and ``mapped_users`` (pass the users mapped to *other* agents) are
    left out.

    Returns at most ``limit`` candidates, by confidence (highest first), then display
    name, then user id.
    """
    eligible = _eligible(users, mapped_users)
    email = normalise_email(agent.email)
    by_email = _email_hits(eligible, {email} - {""})
    strongest = {user.id: (rule, value) for user, rule, value in by_email.get(email, [])}
    name = normalise_name(agent.name)
    similarity = _NameSimilarity(name)
    ranked: list[tuple[tuple[int, str, str], Candidate]] = []
    for user in eligible:
        if user.id in strongest:
            rule, value = strongest[user.id]
            candidate: Candidate | None = _rule_candidate(user, rule, value)
        else:
            candidate = _name_candidate(user, name, similarity)
        if candidate is not None:
            key = (-candidate.confidence, user.display_name.casefold(), user.id)
            ranked.append((key, candidate))
    best = heapq.nsmallest(max(limit, 0), ranked, key=lambda item: item[0])
    return [candidate for _, candidate in best]


def _name_candidate(user: UserRef, name: str, similarity: _NameSimilarity) -> Candidate | None:
    """The user as a NAME or FUZZY_NAME candidate, or None when the names differ too much."""
    if not name:
        return None
    user_name = normalise_name(user.display_name)
    if user_name == name:
        return _rule_candidate(user, MatchRule.NAME, user.display_name)
    scored = similarity.score(user_name)
    if scored is None:
        return None
    ratio, why = scored
    reason = f"{why} ({user.display_name})"
    confidence = round(CONFIDENCE[MatchRule.FUZZY_NAME] * ratio)
    return _candidate(user, MatchRule.FUZZY_NAME, reason, confidence)


class _NameSimilarity:
    """How similar one normalised name is to others, for the remap screen.

    Token order is ignored (a reordered name is the strongest fuzzy match), a name whose
    parts are all in the other ("María García" against "María José García López", a
    common short form) scores ``SUBSET_SIMILARITY``, and other names sharing a part are
    scored by difflib's ratio on the token-sorted names ("Anna Ruiz" for "Ana Ruiz"). The
    agent's name is difflib's second sequence, which it preprocesses once; the cheap upper
    bounds skip most of the rest.
    """

    def __init__(self, name: str) -> None:
        self._sorted = _token_sorted(name)
        self._parts = frozenset(name.split())
        self._matcher = difflib.SequenceMatcher(autojunk=False)
        self._matcher.set_seq2(self._sorted)

    def score(self, other: str) -> tuple[float, str] | None:
        """(similarity, why) when ``other`` is at least ``FUZZY_THRESHOLD`` similar."""
        parts = frozenset(other.split())
        if not parts or not self._parts:
            return None
        other_sorted = _token_sorted(other)
        if other_sorted == self._sorted:
            return 1.0, "Name has the same parts as the user's display name, in another order"
        # One part in common ("Smith") says little; two or more ("María García") is a name.
        if min(len(parts), len(self._parts)) >= 2 and (
            parts <= self._parts or self._parts <= parts
        ):
            why = "Name shares all the parts of the shorter name with the user's display name"
            return SUBSET_SIMILARITY, why
        # No part in common: not worth difflib's time on a large directory (typos in every
        # part of a name are left to the remap screen's search).
        if parts.isdisjoint(self._parts):
            return None
        self._matcher.set_seq1(other_sorted)
        if self._matcher.real_quick_ratio() < FUZZY_THRESHOLD:
            return None
        if self._matcher.quick_ratio() < FUZZY_THRESHOLD:
            return None
        ratio = self._matcher.ratio()
        if ratio < FUZZY_THRESHOLD:
            return None
        return ratio, f"Name is {ratio:.0%} similar to the user's display name"


def _token_sorted(name: str) -> str:
    return " ".join(sorted(name.split()))
