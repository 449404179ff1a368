"""Which Teams users each presence subscription watches: a pure planner.

Graph lets one subscription watch at most 650 users, and a subscription's
resource (its user list) cannot be changed: a different member list means
deleting and recreating it, which opens a short gap in notifications for all
its users. So the planner keeps users where they are and puts new ones where
a subscription changes anyway, then first-fit into the others. It never
reshuffles to save a subscription: each system user owns one slot whether it
is used or not, so fewer subscriptions would save nothing but renewals.
No Django, no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Set

CAPACITY = 650


def subscriptions_needed(users: int, capacity: int = CAPACITY) -> int:
    """How many subscriptions ``users`` watched users need (0 for none)."""
    return math.ceil(users / capacity) if users > 0 else 0


def plan[K: Hashable](
    current: Mapping[K, Set[str]], wanted_users: Set[str], capacity: int = CAPACITY
) -> dict[K, set[str]]:
    """Spread ``wanted_users`` over the subscription slots in ``current``.

    ``current`` maps every usable slot (one per system user, in the order they
    should be filled) to the users it watches now (empty for an idle slot).
    Returns every slot with its planned users, so that:

    * no slot holds more than ``capacity`` users and no user is in two slots;
    * every wanted user is placed while there is room (the rest are "not
      covered", see :func:`not_covered`);
    * users that are still wanted stay where they are;
    * new users go first into slots that change anyway, then first-fit into
      slots in use, then into idle slots: from nothing, 800 users become
      650 + 150, i.e. ``ceil(n / capacity)`` subscriptions.
    """
    if capacity < 1:
        raise ValueError("capacity must be at least 1")
    planned: dict[K, set[str]] = {}
    placed: set[str] = set()
    touched: set[K] = set()
    for key, members in current.items():
        keep = sorted((set(members) & wanted_users) - placed)[:capacity]
        planned[key] = set(keep)
        placed.update(keep)
        if planned[key] != set(members):
            touched.add(key)

    order = {key: index for index, key in enumerate(planned)}

    def fill(users: list[str]) -> None:
        """Place ``users`` in order while there is room."""
        candidates = sorted(
            (k for k in planned if len(planned[k]) < capacity),
            key=lambda k: (k not in touched, not planned[k], order[k]),
        )
        pending = list(users)
        for key in candidates:
            if not pending:
                break
            room = capacity - len(planned[key])
            taken, pending = pending[:room], pending[room:]
            if taken:
                planned[key].update(taken)
                touched.add(key)

    fill(sorted(wanted_users - placed))
    return planned


def not_covered[K: Hashable](planned: Mapping[K, Set[str]], wanted_users: Set[str]) -> set[str]:
    """Wanted users no slot watches (not enough system users): reconciliation polls them."""
    covered: set[str] = set()
    for members in planned.values():
        covered |= set(members)
    return set(wanted_users) - covered


def changed_slots[K: Hashable](
    current: Mapping[K, Set[str]], planned: Mapping[K, Set[str]]
) -> set[K]:
    """Slots whose member list differs (each means one delete + create in Graph)."""
    return {k for k in planned if set(planned[k]) != set(current.get(k, ()))}
