"""The auto-map review of a unit: proposals in groups by outcome, and the admin's ticks.

A unit can hold hundreds of unmapped agents, so the review shows one group a page at a
time. The ticks live in the session, one set per unit, so that they survive paging,
searching and switching groups; the confirm step reads them from there.
"""

from __future__ import annotations

from collections.abc import Iterable, MutableMapping, Sequence
from dataclasses import dataclass

from accounts.matching import MatchRule, MatchStatus, Proposal

# (key, label), in the order the review lists them.
GROUPS = (
    ("confident", "Confident matches"),
    ("name", "Name only"),
    ("ambiguous", "Ambiguous"),
    ("none", "No match"),
)
GROUP_LABELS = dict(GROUPS)
# The groups whose proposals can be ticked: the others need a person to choose.
TICKABLE = frozenset({"confident", "name"})


def review_group(proposal: Proposal) -> str:
    """The review group of a proposal: a match by an address is confident, a match by
    display name alone is not (two people can share a name)."""
    if proposal.status == MatchStatus.AMBIGUOUS:
        return "ambiguous"
    if proposal.status == MatchStatus.NONE or proposal.chosen is None:
        return "none"
    return "name" if proposal.chosen.rule == MatchRule.NAME else "confident"


@dataclass(frozen=True)
class Group:
    key: str
    label: str
    proposals: tuple[Proposal, ...]
    ticked: int

    @property
    def count(self) -> int:
        return len(self.proposals)

    @property
    def tickable(self) -> bool:
        return self.key in TICKABLE


def review_groups(
    proposals: Iterable[Proposal], *, ticks: set[int], only: set[int] | None = None
) -> list[Group]:
    """The proposals in their groups, in review order; ``only`` keeps those agents
    (a search's hits)."""
    grouped: dict[str, list[Proposal]] = {key: [] for key, _ in GROUPS}
    for proposal in proposals:
        if only is None or proposal.agent_id in only:
            grouped[review_group(proposal)].append(proposal)
    return [
        Group(
            key,
            label,
            tuple(grouped[key]),
            sum(1 for p in grouped[key] if p.agent_id in ticks) if key in TICKABLE else 0,
        )
        for key, label in GROUPS
    ]


def group_chosen(groups: Sequence[Group], wanted: str) -> Group:
    """The group asked for, else the first with proposals in it, else the first."""
    by_key = {group.key: group for group in groups}
    if wanted in by_key:
        return by_key[wanted]
    return next((group for group in groups if group.proposals), groups[0])


# --- the ticks --------------------------------------------------------------------------


def _key(unit_id: int) -> str:
    return f"automap-ticks-{unit_id}"


def ticks_initial(proposals: Iterable[Proposal]) -> set[int]:
    """The ticks a review starts with: every confident match, nothing else."""
    return {p.agent_id for p in proposals if review_group(p) == "confident"}


def ticks_stored(session: MutableMapping, *, unit_id: int) -> set[int] | None:
    """The ticks of this unit's review as saved, or None before it saved any."""
    stored = session.get(_key(unit_id))
    return None if stored is None else set(stored)


def ticks_save(session: MutableMapping, *, unit_id: int, ticks: Iterable[int]) -> None:
    session[_key(unit_id)] = sorted(set(ticks))


def ticks_clear(session: MutableMapping, *, unit_id: int) -> None:
    session.pop(_key(unit_id), None)
