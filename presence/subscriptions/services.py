"""Presence subscriptions: one per signed-in system user, kept alive in Graph.

Graph's rules (docs/graph.md, "Change notifications"): a presence subscription
needs a delegated token, watches at most 650 users, lasts at most 60
minutes, exists once per user and app (409 on a second), and cannot change
its resource. :func:`subscriptions_sync` converges Graph to the plan from
:mod:`presence.subscription_plan`: it creates what is missing, recreates only
the subscriptions whose members changed (or that Graph removed), renews
those about to expire, and records health on each Subscription row.
"""

from __future__ import annotations

import contextlib
import hmac
import logging
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.utils import timezone

from accounts.models import Agent, DirectoryUser
from graph.client import GraphClient
from graph.errors import AuthError, Conflict, GraphError, NotFound
from integrations import crypto
from integrations.audit import audit_record
from integrations.graphlink import app_graph_client, token_cache_save
from integrations.jobs import task_enqueue
from integrations.services import account_get
from presence.subscriptions.certificates import certificate_active, encryption_certificate_b64
from presence.subscriptions.hints import failure_text
from presence.subscriptions.lock import subscriptions_exclusive
from presence.subscriptions.plan import CAPACITY, changed_slots, not_covered, plan
from presence.subscriptions.system_users import (
    SystemUserError,
    system_user_cache_save,
    system_user_graph_client,
    system_user_mark_failed,
)
from presence.sync_models import NotificationCertificate, Subscription, SystemUser

__all__ = [
    "CAPACITY",
    "changed_slots",
    "client_state_matches",
    "mapped_users",
    "not_covered",
    "plan",
    "subscription_discard",
    "subscription_for_graph_id",
    "subscriptions_sync",
    "system_user_remove",
]

logger = logging.getLogger(__name__)

LIFETIME = timedelta(minutes=55)  # Graph allows 60; leave room for clock skew
RENEW_WITHIN = timedelta(minutes=15)
NOTIFICATION_PATH = "/graph/notifications"
LIFECYCLE_PATH = "/graph/lifecycle"
# The columns the sync owns; the webhook writes last_notification_at concurrently.
SYNC_FIELDS = [
    "graph_id",
    "status",
    "certificate",
    "expires_at",
    "renewed_at",
    "last_error",
    "last_error_at",
]


@dataclass
class SyncResult:
    """What one :func:`subscriptions_sync` did."""

    created: int = 0
    recreated: int = 0
    renewed: int = 0
    deleted: int = 0
    failed: int = 0
    new_failures: int = 0
    covered: int = 0
    not_covered: list[str] = field(default_factory=list)
    busy: bool = False
    skipped: str = ""

    @property
    def changed(self) -> bool:
        return bool(self.created or self.recreated or self.renewed or self.deleted)

    def counts(self) -> dict[str, int]:
        return {
            "created": self.created,
            "recreated": self.recreated,
            "renewed": self.renewed,
            "deleted": self.deleted,
            "failed": self.failed,
            "covered": self.covered,
            "not_covered": len(self.not_covered),
        }

    def summary(self) -> str:
        if self.busy:
            return "Another subscription sync was running; this one did nothing."
        if self.skipped:
            return self.skipped
        text = (
            f"{self.covered} users covered by subscriptions, {len(self.not_covered)} not "
            f"covered; created {self.created}, recreated {self.recreated}, renewed "
            f"{self.renewed}, deleted {self.deleted}, failed {self.failed}."
        )
        if self.not_covered:
            text += " Add system users to cover the rest (reconciliation polls them meanwhile)."
        return text


# --- lookups used by the webhook -------------------------------------------------------


def subscription_for_graph_id(graph_id: str) -> Subscription | None:
    """The Subscription row Graph knows as ``graph_id``; None when unknown."""
    if not graph_id:
        return None
    return (
        Subscription.objects.filter(graph_id__iexact=graph_id).select_related("system_user").first()
    )


def client_state_matches(subscription: Subscription, value: str) -> bool:
    """True when ``value`` is this subscription's clientState (constant-time)."""
    if not isinstance(value, str) or not value:
        return False
    expected = subscription.client_state
    # surrogatepass: a lone surrogate (valid in JSON) must mismatch, not raise.
    given = value.encode(errors="surrogatepass")
    return bool(expected) and hmac.compare_digest(expected.encode(), given)


def mapped_users():
    """The Teams users presence sync watches: mapped to an agent with Teams
    integration on, and still present and enabled in the directory."""
    return DirectoryUser.objects.filter(
        mapping__agent__teams_enabled=True, removed_reason="", account_enabled=True
    )


def member_agent_ids(subscription: Subscription) -> list[int]:
    """Ids of the enabled agents a subscription watches (for reconciliation)."""
    return list(
        Agent.objects.filter(
            mapping__directory_user__subscriptions=subscription, teams_enabled=True
        ).values_list("pk", flat=True)
    )


# --- Graph request bodies --------------------------------------------------------------


def presence_resource(user_ids: list[str]) -> str:
    """Graph's presence resource for these users (one, or an ``id in (…)`` filter)."""
    ids = sorted(user_ids)
    if len(ids) == 1:
        return f"/communications/presences/{ids[0]}"
    quoted = ",".join(f"'{i}'" for i in ids)
    return f"/communications/presences?$filter=id in ({quoted})"


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _public_url() -> str:
    return settings.CCBRIDGE_PUBLIC_URL.rstrip("/")


def _expiry(answer: dict | None, fallback: datetime) -> datetime:
    try:
        return datetime.fromisoformat(str((answer or {}).get("expirationDateTime")))
    except ValueError:
        return fallback


# --- the sync ----------------------------------------------------------------------------


class _Run:
    """State of one sync: the clients it built and what it did."""

    def __init__(self, account, certificate: NotificationCertificate, now: datetime) -> None:
        self.account = account
        self.certificate = certificate
        self.now = now
        self.result = SyncResult()
        self._app: tuple[GraphClient, object] | None = None
        self.lost_users: set[int] = set()
        self.recovered: list[Subscription] = []

    def app_client(self) -> GraphClient:
        if self._app is None:
            self._app = app_graph_client(self.account)
        return self._app[0]

    def close(self) -> None:
        if self._app is not None:
            token_cache_save(self.account, self._app[1])

    # -- Graph operations ---------------------------------------------------------------

    def create_body(self, row: Subscription, members: list[str]) -> dict:
        base = _public_url()
        return {
            "changeType": "updated",
            "notificationUrl": base + NOTIFICATION_PATH,
            "lifecycleNotificationUrl": base + LIFECYCLE_PATH,
            "resource": presence_resource(members),
            "expirationDateTime": _iso(self.now + LIFETIME),
            "clientState": row.client_state,
            "includeResourceData": True,
            "encryptionCertificate": encryption_certificate_b64(self.certificate),
            "encryptionCertificateId": self.certificate.certificate_id,
        }

    def delete_stale(self, user: SystemUser, client: GraphClient) -> int:
        """After a 409: delete the system user's other presence subscriptions of
        this app (the app token may list and delete them)."""
        # Unknown object id: the user's own token lists only the user's own.
        lister = self.app_client() if user.graph_id else client

        def owned(item: dict) -> bool:
            creator = str(item.get("creatorId") or "").lower()
            return not user.graph_id or creator == user.graph_id.lower()

        known = set(Subscription.objects.exclude(graph_id="").values_list("graph_id", flat=True))
        deleted = 0
        for page in lister.iter_pages("/subscriptions"):
            for item in page:
                sid = str(item.get("id") or "")
                resource = str(item.get("resource") or "").lstrip("/").lower()
                if not resource.startswith("communications/presences") or not owned(item):
                    continue
                if sid in known:
                    continue  # another row's live subscription, never ours to delete
                with contextlib.suppress(NotFound):
                    lister.delete(f"/subscriptions/{sid}")
                deleted += 1
        return deleted

    def create(self, row: Subscription, members: list[str], client: GraphClient) -> None:
        body = self.create_body(row, members)
        try:
            answer = client.post("/subscriptions", body)
        except Conflict:
            self.delete_stale(row.system_user, client)
            answer = client.post("/subscriptions", body)
        row.graph_id = str((answer or {}).get("id") or "")
        row.expires_at = _expiry(answer, self.now + LIFETIME)
        row.renewed_at = self.now
        row.certificate = self.certificate
        row.status = Subscription.Status.ACTIVE

    def delete(self, row: Subscription, client: GraphClient | None) -> bool:
        """Delete ``row``'s subscription in Graph (gone already is fine); False when
        there was none. ``client`` None = the app token."""
        if not row.graph_id:
            return False
        with contextlib.suppress(NotFound):
            (client or self.app_client()).delete(f"/subscriptions/{row.graph_id}")
        row.graph_id = ""
        row.save(update_fields=["graph_id"])
        return True

    def renew(self, row: Subscription, client: GraphClient) -> None:
        client.patch(
            f"/subscriptions/{row.graph_id}",
            {"expirationDateTime": _iso(self.now + LIFETIME)},
        )
        row.expires_at = self.now + LIFETIME
        row.renewed_at = self.now
        row.status = Subscription.Status.ACTIVE

    # -- one row ------------------------------------------------------------------------

    def record_failure(self, row: Subscription, error: Exception) -> None:
        text = failure_text(error, _public_url() + NOTIFICATION_PATH)
        if row.last_error != text or row.status != Subscription.Status.FAILED:
            self.result.new_failures += 1
        row.status = Subscription.Status.FAILED
        row.last_error = text
        row.last_error_at = self.now
        self.result.failed += 1
        logger.warning("subscription of %s failed: %s", row.system_user, error)

    def converge(self, row: Subscription, members: set[str], changed: bool) -> None:
        """Make Graph match ``members`` for ``row``'s system user."""
        user = row.system_user
        needs_new = (
            changed
            or not row.graph_id
            or row.status != Subscription.Status.ACTIVE
            or row.certificate_id != self.certificate.pk
        )
        due = row.expires_at is None or row.expires_at - self.now <= RENEW_WITHIN
        if not needs_new and not due:
            return
        # REMOVED is not here: the subscriptionRemoved lifecycle task reconciles those itself.
        # Members may have changed presence unheard: reconcile them once it is active.
        missed_changes = row.status == Subscription.Status.FAILED
        try:
            client, tokens = system_user_graph_client(user)
        except (SystemUserError, crypto.SecretUnreadable) as exc:
            self.record_failure(row, exc)
            row.save(update_fields=SYNC_FIELDS)
            return
        try:
            if needs_new:
                had = self.delete(row, client) or row.status == Subscription.Status.REMOVED
                self.create(row, sorted(members), client)
                if had:
                    self.result.recreated += 1
                else:
                    self.result.created += 1
            else:
                try:
                    self.renew(row, client)
                    self.result.renewed += 1
                except NotFound:
                    # Gone (it expired while nobody renewed it, or Graph removed it):
                    # start again, and treat the gap as an outage for its members.
                    row.graph_id = ""
                    self.create(row, sorted(members), client)
                    self.result.recreated += 1
                    missed_changes = True
            row.last_error = ""
        except AuthError as exc:
            system_user_mark_failed(user, exc)
            self.lost_users.add(user.pk)
            self.record_failure(row, exc)
        except GraphError as exc:
            self.record_failure(row, exc)
        finally:
            system_user_cache_save(user, tokens)
        row.save(update_fields=SYNC_FIELDS)
        if missed_changes and row.status == Subscription.Status.ACTIVE:
            self.recovered.append(row)

    def retire(self, row: Subscription, reason: str) -> None:
        """``row``'s system user is out of the pool: no subscription, no members."""
        if not (row.graph_id or row.status != Subscription.Status.PENDING or row.members.exists()):
            return
        try:
            if self.delete(row, None):
                self.result.deleted += 1
        except GraphError as exc:
            # It expires within the hour anyway; its users move to other subscriptions now.
            logger.warning("could not delete subscription %s: %s", row.graph_id, exc)
            row.graph_id = ""
        row.members.clear()
        row.status = Subscription.Status.PENDING
        row.expires_at = None
        row.last_error = reason
        row.last_error_at = self.now if reason else row.last_error_at
        row.save(update_fields=SYNC_FIELDS)


def _new_row(user: SystemUser) -> Subscription:
    return Subscription.objects.create(system_user=user, client_state=secrets.token_urlsafe(48))


def _pool() -> list[SystemUser]:
    return list(SystemUser.objects.filter(enabled=True, status=SystemUser.Status.OK).order_by("pk"))


def _one_pass(run: _Run) -> None:
    pool = _pool()
    in_pool = {u.pk for u in pool}
    for row in Subscription.objects.exclude(system_user__in=in_pool).select_related("system_user"):
        user = row.system_user
        reason = (
            "Not in use: the system user is disabled."
            if not user.enabled
            else f"Not in use: the system user cannot sign in. {user.status_detail}".strip()
        )
        run.retire(row, reason)

    rows = {
        row.system_user_id: row
        for row in Subscription.objects.filter(system_user__in=in_pool)
        .select_related("system_user", "certificate")
        .prefetch_related("members")
    }
    current = {
        u.pk: {m.graph_id for m in rows[u.pk].members.all()} if u.pk in rows else set()
        for u in pool
    }
    users = {u.graph_id: u for u in mapped_users().only("pk", "graph_id")}
    planned = plan(current, set(users))
    changed = changed_slots(current, planned)
    for user in pool:
        members = planned[user.pk]
        row = rows.get(user.pk) or _new_row(user)
        if not members:  # an idle slot: nobody left to watch (a resource needs ≥ 1 id)
            run.retire(row, "")
            continue
        if user.pk in changed:
            row.members.set([users[g] for g in members])
        run.converge(row, members, user.pk in changed)
    run.result.not_covered = sorted(not_covered(planned, set(users)))


def _reconcile_recovered(rows: list[Subscription]) -> None:
    """Nobody listened for the members of a subscription while it was failing: read
    their presence once it is back (``reason="outage"``), after the sync commits."""
    for row in rows:
        agent_ids = member_agent_ids(row)
        if agent_ids:
            task_enqueue(
                "presence.to_acd.reconcile", kwargs={"agent_ids": agent_ids, "reason": "outage"}
            )


def subscriptions_sync(*, now: datetime | None = None, wait: float = 30.0) -> SyncResult:
    """Bring Graph's presence subscriptions in line with the mapped users.

    One subscription per enabled, signed-in system user; members planned by
    :func:`presence.subscription_plan.plan`; a changed member list → delete +
    create (Graph cannot change a resource); renew what expires within 15
    minutes; recreate what Graph removed (404) and replace a stale duplicate
    (409). Failures are recorded on the row (status FAILED, ``last_error``) and
    retried on the next run; when one is ACTIVE again, its members' presence
    is read once (``reconcile``, reason "outage"), since nobody listened for
    them meanwhile. Waits up to ``wait`` seconds for a concurrent run, else
    returns with ``busy``. Side effects: Graph calls (delegated and app
    tokens), Subscription rows, system user status after a refused sign-in,
    reconcile tasks enqueued after commit.
    """
    result = SyncResult()
    with subscriptions_exclusive(wait) as acquired:
        if not acquired:
            result.busy = True
            return result
        account = account_get()
        if account is None or account.missing_credentials():
            result.skipped = "No complete Teams integration account: nothing to subscribe with."
            return result
        now = now or timezone.now()
        run = _Run(account, certificate_active(now=now), now)
        try:
            _one_pass(run)
            if run.lost_users:  # a system user stopped signing in: move its users now
                run.lost_users.clear()
                _one_pass(run)
        finally:
            run.close()
        _reconcile_recovered(run.recovered)
        result = run.result
        result.covered = (
            mapped_users()
            .filter(subscriptions__status=Subscription.Status.ACTIVE)
            .distinct()
            .count()
        )
    return result


def subscription_discard(*, system_user: SystemUser) -> None:
    """Delete ``system_user``'s subscription in Graph (best effort) and here."""
    with subscriptions_exclusive(30.0) as acquired:
        if not acquired:
            raise SystemUserError("A subscription sync is running; try again in a minute.")
        row = Subscription.objects.filter(system_user=system_user).first()
        if row is None:
            return
        account = account_get()
        if row.graph_id and account is not None and not account.missing_credentials():
            run = _Run(account, certificate_active(), timezone.now())
            try:
                run.delete(row, None)
            except GraphError as exc:
                # It expires within the hour; its users move to other subscriptions.
                logger.warning("could not delete subscription %s: %s", row.graph_id, exc)
            finally:
                run.close()
        row.delete()


def system_user_remove(*, actor, user: SystemUser) -> None:
    """Forget a system user: delete its subscription (in Graph when possible, and
    here), then the row. The account itself stays in Entra ID."""
    subscription_discard(system_user=user)
    username = user.username
    audit_record(
        actor=actor,
        action="system_user.remove",
        target=user,
        summary=f"Removed the system user {username}",
        changes={"username": username},
    )
    user.delete()


def subscription_mark(
    graph_id: str, event: str, *, now: datetime | None = None
) -> Subscription | None:
    """Note a lifecycle event on the row so the next sync acts on it:
    ``subscriptionRemoved`` → recreate; ``reauthorizationRequired`` → renew now."""
    row = subscription_for_graph_id(graph_id)
    if row is None:
        return None
    now = now or timezone.now()
    rows = Subscription.objects.filter(pk=row.pk, graph_id=row.graph_id)
    if event == "subscriptionRemoved":
        rows.update(
            status=Subscription.Status.REMOVED,
            last_error_at=now,
            last_error=(
                "Graph removed this subscription (lifecycle event subscriptionRemoved); recreated "
                "on the next sync and its users reconciled."
            ),
        )
    elif event == "reauthorizationRequired":
        rows.update(expires_at=now)
    return row
