"""The Teams directory as the agent desktop sees it: search, presence, phone numbers.

Presence comes from Graph's getPresencesByUserId (application Presence.Read.All),
one call per page for the users whose stored reading is older than
PRESENCE_MAX_AGE. When Graph cannot be reached the last reading is returned,
marked stale, and the page says why; the search itself never fails on Graph.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Q, QuerySet
from django.utils import timezone

from accounts.models import DirectoryUser
from chat.models import ExpertPresence
from graph.errors import GraphError
from graph.presence import get_presences
from integrations.graphlink import app_graph_client, token_cache_save
from integrations.models import IntegrationAccount, default_phone_types

logger = logging.getLogger(__name__)

# How old a stored presence may be before a page reads it again from Graph.
PRESENCE_MAX_AGE = timedelta(seconds=30)
SEARCH_FIELDS = ("display_name", "mail", "user_principal_name", "job_title", "department")


@dataclass(frozen=True)
class ExpertPresenceReading:
    availability: str
    activity: str
    read_at: datetime
    stale: bool


@dataclass(frozen=True)
class Expert:
    user: DirectoryUser
    presence: ExpertPresenceReading | None
    phones: list[tuple[str, str]]  # (phone type value, number), in the account's order


@dataclass(frozen=True)
class DirectoryPage:
    count: int
    page: int
    page_size: int
    experts: list[Expert]
    presence_error: str

    @property
    def pages(self) -> int:
        return max(1, -(-self.count // self.page_size))


def directory_users_matching(q: str) -> QuerySet[DirectoryUser]:
    """Current (enabled, not removed) directory users whose name, mail, UPN, title or
    department contains every word of `q`, case-insensitively; all of them for an empty `q`."""
    users = DirectoryUser.objects.filter(account_enabled=True, removed_reason="")
    for word in q.split():
        match = Q()
        for field in SEARCH_FIELDS:
            match |= Q(**{f"{field}__icontains": word})
        users = users.filter(match)
    return users.order_by("display_name", "id")


def _stored_presences(users: list[DirectoryUser]) -> dict[int, ExpertPresence]:
    rows = ExpertPresence.objects.filter(directory_user__in=users)
    return {row.directory_user_id: row for row in rows}


def _refresh_presences(
    account: IntegrationAccount, users: list[DirectoryUser], now: datetime
) -> dict[int, ExpertPresence]:
    """Read the users' presences from Graph in one call and store them. Raises GraphError."""
    client, tokens = app_graph_client(account)
    try:
        readings = get_presences(client, [user.graph_id for user in users])
    finally:
        token_cache_save(account, tokens)
    by_graph_id = {user.graph_id: user for user in users}
    rows = [
        ExpertPresence(
            directory_user=by_graph_id[reading.user_id],
            availability=reading.availability,
            activity=reading.activity,
            read_at=now,
        )
        for reading in readings
        if reading.user_id in by_graph_id
    ]
    ExpertPresence.objects.bulk_create(
        rows,
        update_conflicts=True,
        unique_fields=["directory_user"],
        update_fields=["availability", "activity", "read_at"],
    )
    return {row.directory_user.pk: row for row in rows}


def directory_page(*, q: str = "", page: int = 1, page_size: int = 25) -> DirectoryPage:
    """One page of experts matching `q`, with presence read from Graph where the stored
    reading is older than PRESENCE_MAX_AGE and numbers in the account's phone-type order.

    Side effects: stores the presences read. A Graph failure is logged and reported in
    `presence_error`; the experts then carry their last reading, marked stale."""
    matching = directory_users_matching(q)
    count = matching.count()
    start = (page - 1) * page_size
    # A page past the end is empty (and never an OFFSET the database cannot hold).
    users = list(matching[start : start + page_size]) if start < count else []
    account = IntegrationAccount.objects.first()
    phone_types = account.phone_types if account else default_phone_types()
    now = timezone.now()
    stored = _stored_presences(users)
    due = [u for u in users if u.pk not in stored or now - stored[u.pk].read_at > PRESENCE_MAX_AGE]
    error = ""
    if due and account is None:
        error = "No Teams integration account is set up, so presence cannot be read."
    elif due:
        try:
            stored.update(_refresh_presences(account, due, now))
        except GraphError as exc:
            logger.warning("Directory presence read failed: %s", exc)
            error = f"Presence could not be read from Microsoft Graph: {exc}"
    experts = []
    for user in users:
        row = stored.get(user.pk)
        reading = None
        if row is not None:
            reading = ExpertPresenceReading(
                availability=row.availability,
                activity=row.activity,
                read_at=row.read_at,
                stale=now - row.read_at > PRESENCE_MAX_AGE,
            )
        experts.append(Expert(user=user, presence=reading, phones=user.phone_numbers(phone_types)))
    return DirectoryPage(
        count=count, page=page, page_size=page_size, experts=experts, presence_error=error
    )
