"""How presence sync is doing, in one read: subscriptions, coverage, system
users, notifications and deliveries to the contact center.

Each part carries a level ("ok", "warn", "fail" or "idle") so a screen can
colour it without repeating the rules. Read-only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, Max, Q
from django.utils import timezone

from presence.subscriptions.services import mapped_users
from presence.subscriptions.system_users import system_users_needed
from presence.sync_models import AcdDelivery, Subscription, SystemUser

OK, WARN, FAIL, IDLE = "ok", "warn", "fail", "idle"
# Renewal starts 15 minutes ahead and runs every minute; an active subscription
# this close to its end means renewals are not getting through.
EXPIRING_WITHIN = timedelta(minutes=10)
FAILING_STATUSES = (
    SystemUser.Status.MFA_REQUIRED,
    SystemUser.Status.WRONG_PASSWORD,
    SystemUser.Status.FAILED,
)


@dataclass(frozen=True)
class SystemUsersSummary:
    """Enabled system users by sign-in state; only ``working`` ones own subscriptions."""

    enabled: int
    working: int
    failing: int
    unchecked: int
    needed: int

    @property
    def missing(self) -> int:
        """How many more working accounts the mapped users need."""
        return max(self.needed - self.working, 0)

    @property
    def level(self) -> str:
        if self.failing:
            return FAIL
        if self.missing:
            return WARN
        return OK if self.enabled else IDLE


@dataclass(frozen=True)
class SyncHealth:
    """The dashboard's presence sync panel."""

    active: int
    failing: int
    expiring: int
    mapped: int
    covered: int
    system_users: SystemUsersSummary
    last_notification_at: datetime | None
    last_delivery: AcdDelivery | None
    dead_letters: int

    @property
    def not_covered(self) -> int:
        return max(self.mapped - self.covered, 0)

    @property
    def subscriptions_level(self) -> str:
        if self.failing:
            return FAIL
        if self.expiring:
            return WARN
        return OK if self.active else (FAIL if self.mapped else IDLE)

    @property
    def coverage_level(self) -> str:
        if not self.mapped:
            return IDLE
        if not self.covered:
            return FAIL
        return WARN if self.covered < self.mapped else OK

    @property
    def delivery_level(self) -> str:
        if self.dead_letters:
            return FAIL
        if self.last_delivery is None:
            return IDLE
        if self.last_delivery.status == AcdDelivery.Status.PENDING and self.last_delivery.attempts:
            return WARN  # failed at least once, still being retried
        return OK

    @property
    def level(self) -> str:
        """The worst of the parts."""
        levels = {
            self.subscriptions_level,
            self.coverage_level,
            self.system_users.level,
            self.delivery_level,
        }
        return next((lvl for lvl in (FAIL, WARN, OK) if lvl in levels), IDLE)


def system_users_summary(*, mapped: int | None = None) -> SystemUsersSummary:
    """Count enabled system users by sign-in state against what ``mapped``
    users (default: the mapped users now) need."""
    if mapped is None:
        mapped = mapped_users().count()
    statuses = list(SystemUser.objects.filter(enabled=True).values_list("status", flat=True))
    return SystemUsersSummary(
        enabled=len(statuses),
        working=statuses.count(SystemUser.Status.OK),
        failing=sum(1 for s in statuses if s in FAILING_STATUSES),
        unchecked=statuses.count(SystemUser.Status.UNCHECKED),
        needed=system_users_needed(mapped),
    )


def sync_health_summary(*, now: datetime | None = None) -> SyncHealth:
    """Read the state of presence sync (a handful of queries)."""
    now = now or timezone.now()
    is_active = Q(status=Subscription.Status.ACTIVE)
    # The dashboard polls this every few seconds: one pass over the subscriptions.
    subscriptions = Subscription.objects.aggregate(
        active=Count("pk", filter=is_active),
        failing=Count(
            "pk", filter=Q(status__in=(Subscription.Status.FAILED, Subscription.Status.REMOVED))
        ),
        expiring=Count("pk", filter=is_active & Q(expires_at__lt=now + EXPIRING_WITHIN)),
        last=Max("last_notification_at"),
    )
    mapped = mapped_users().count()
    return SyncHealth(
        active=subscriptions["active"],
        failing=subscriptions["failing"],
        expiring=subscriptions["expiring"],
        mapped=mapped,
        covered=mapped_users()
        .filter(subscriptions__status=Subscription.Status.ACTIVE)
        .distinct()
        .count(),
        system_users=system_users_summary(mapped=mapped),
        last_notification_at=subscriptions["last"],
        last_delivery=AcdDelivery.objects.order_by("-created_at", "-id").first(),
        dead_letters=AcdDelivery.objects.filter(status=AcdDelivery.Status.DEAD).count(),
    )
