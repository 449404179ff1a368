"""Directory sync: `/users/delta`, saved page by page, resumable, incremental.

The first run pages through every user; later runs start from the stored
delta link and touch only what changed. Each page is written in one
transaction together with the link to the next page, so a worker killed
mid-sync resumes from the last saved page and never duplicates a user.
"""

from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.models import DirectorySyncState, DirectoryUser
from graph.directory import users_delta
from integrations.graphlink import app_graph_client, token_cache_save
from integrations.jobs import JobContext, JobFailed
from integrations.services import account_get

# Graph property → model field, with the value each field takes when Graph sends null.
PROPERTIES: dict[str, tuple[str, Any]] = {
    "displayName": ("display_name", ""),
    "mail": ("mail", ""),
    "userPrincipalName": ("user_principal_name", ""),
    "otherMails": ("other_mails", []),
    "proxyAddresses": ("proxy_addresses", []),
    "businessPhones": ("business_phones", []),
    "mobilePhone": ("mobile_phone", ""),
    "faxNumber": ("fax_number", ""),
    "accountEnabled": ("account_enabled", True),
    "jobTitle": ("job_title", ""),
    "department": ("department", ""),
}
REMOVED_REASONS = {choice.value for choice in DirectoryUser.RemovedReason}
# The most Graph returns in one page (GRAPH.md: $top ≤ 999); fewer round trips.
PAGE_SIZE = 999


@dataclass
class PageOutcome:
    created: int = 0
    updated: int = 0
    removed: int = 0
    graph_ids: list[str] = field(default_factory=list)


def sync_state() -> DirectorySyncState:
    state, _ = DirectorySyncState.objects.get_or_create(singleton=True)
    return state


def _fields_of(item: dict[str, Any]) -> dict[str, Any]:
    """The model fields present in a Graph item (delta items may carry only what changed)."""
    values = {}
    for prop, (name, empty) in PROPERTIES.items():
        if prop in item:
            value = item[prop]
            values[name] = empty if value is None else value
    return values


def page_apply(items: list[dict[str, Any]], *, seen_at) -> PageOutcome:
    """Upsert one delta page and mark its removed users, in a constant number of queries."""
    outcome = PageOutcome()
    removed: dict[str, str] = {}
    present: dict[str, dict[str, Any]] = {}
    for item in items:
        graph_id = item.get("id")
        if not graph_id:
            continue
        if "@removed" in item:
            reason = (item["@removed"] or {}).get("reason", "changed")
            removed[graph_id] = reason if reason in REMOVED_REASONS else "changed"
        else:
            present[graph_id] = _fields_of(item)

    existing = set(
        DirectoryUser.objects.filter(graph_id__in=present).values_list("graph_id", flat=True)
    )
    # Group by the set of properties sent, so partial updates never blank a column.
    groups: dict[frozenset[str], list[DirectoryUser]] = {}
    for graph_id, values in present.items():
        user = DirectoryUser(
            graph_id=graph_id, last_seen_at=seen_at, removed_reason="", removed_at=None, **values
        )
        groups.setdefault(frozenset(values), []).append(user)
    for names, users in groups.items():
        DirectoryUser.objects.bulk_create(
            users,
            update_conflicts=True,
            unique_fields=["graph_id"],
            update_fields=[*sorted(names), "last_seen_at", "removed_reason", "removed_at"],
        )
    outcome.created = len(present.keys() - existing)
    outcome.updated = len(present.keys() & existing)

    for reason in set(removed.values()):
        ids = [graph_id for graph_id, why in removed.items() if why == reason]
        outcome.removed += DirectoryUser.objects.filter(graph_id__in=ids).update(
            removed_reason=reason, removed_at=seen_at
        )
    outcome.graph_ids = [*present, *removed]
    return outcome


def directory_sync_run(*, ctx: JobContext | None = None) -> DirectorySyncState:
    """Run one directory sync round against Graph and persist it page by page.

    Resumes from `resume_link` when the previous run died mid-round, else
    continues from the stored delta link, else starts a full sync.
    Raises JobFailed when there is no usable integration account; Graph
    errors propagate (the job records them; the next run resumes).
    """
    account = account_get()
    if account is None or account.missing_credentials():
        raise JobFailed("Set up the Teams integration account before syncing the directory.")
    state = sync_state()
    start_link = state.resume_link or state.delta_link or None
    full = start_link is None or (state.resume_link and not state.delta_link)
    DirectorySyncState.objects.filter(pk=state.pk).update(last_started_at=timezone.now())
    if ctx:
        ctx.note("Full sync" if full else "Incremental sync from the last delta link")

    client, tokens = app_graph_client(account)
    pages = 0
    for page in users_delta(client, start_link, page_size=PAGE_SIZE):
        with transaction.atomic():
            outcome = page_apply(page.items, seen_at=timezone.now())
            state.resume_link = page.next_link or ""
            if page.delta_link:
                state.delta_link = page.delta_link
            state.save(update_fields=["resume_link", "delta_link"])
        pages += 1
        if ctx:
            ctx.advance(len(page.items))
            ctx.count(created=outcome.created, updated=outcome.updated, removed=outcome.removed)
    token_cache_save(account, tokens)
    now = timezone.now()
    state.last_finished_at = now
    if full:
        state.last_full_sync_at = now
    state.save(update_fields=["last_finished_at", "last_full_sync_at"])
    if ctx:
        ctx.count(pages=pages, requests=client.request_count)
        ctx.note(f"{'Full' if full else 'Incremental'} sync done in {pages} pages")
    return state
