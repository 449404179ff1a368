"""What is red right now, read from the console's records. No Graph calls: the
token refresh, subscription maintenance, ACD delivery and nightly setup jobs keep
these records current."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from integrations.models import SetupRun
from integrations.services import account_get
from integrations.setup.checks import SECRET_WARNING_DAYS
from mailboxes.models import Mailbox
from presence.sync_models import AcdDelivery, Subscription, SystemUser


@dataclass(frozen=True)
class Signal:
    key: str
    title: str
    detail: str


def _account(now: datetime) -> list[Signal]:
    account = account_get()
    if account is None:
        return []
    found = []
    expires = account.secret_expires_at
    if expires is not None and expires <= now:
        found.append(
            Signal(
                "secret.expiry",
                "The client secret has expired",
                f"It expired {expires:%Y-%m-%d %H:%M} UTC; Graph refuses the app.",
            )
        )
    elif expires is not None and expires - now <= timedelta(days=SECRET_WARNING_DAYS):
        found.append(
            Signal(
                "secret.expiry",
                "The client secret expires within 15 days",
                f"It expires {expires:%Y-%m-%d %H:%M} UTC. Create a new one in "
                "Azure and paste it into the Teams integration account.",
            )
        )
    if account.token_error:
        found.append(
            Signal("token.refresh", "The app token cannot be refreshed", account.token_error)
        )
    return found


def _subscriptions(now: datetime) -> list[Signal]:
    found = []
    for sub in Subscription.objects.select_related("system_user"):
        user = sub.system_user.username
        if sub.status in (Subscription.Status.FAILED, Subscription.Status.REMOVED):
            found.append(
                Signal(
                    f"subscription.{sub.pk}",
                    f"The subscription of {user} is dead",
                    sub.last_error or sub.get_status_display(),
                )
            )
        elif sub.status == Subscription.Status.ACTIVE and sub.expires_at and sub.expires_at <= now:
            found.append(
                Signal(
                    f"subscription.{sub.pk}",
                    f"The subscription of {user} was not renewed",
                    f"It expired {sub.expires_at:%Y-%m-%d %H:%M} UTC.",
                )
            )
    return found


def _system_users() -> list[Signal]:
    blocked = SystemUser.objects.filter(
        enabled=True,
        status__in=(SystemUser.Status.MFA_REQUIRED, SystemUser.Status.WRONG_PASSWORD),
    )
    return [
        Signal(
            f"system_user.{u.pk}",
            f"{u.username} cannot sign in ({u.get_status_display()})",
            u.status_detail,
        )
        for u in blocked
    ]


def _deliveries() -> list[Signal]:
    dead = AcdDelivery.objects.filter(status=AcdDelivery.Status.DEAD).count()
    if not dead:
        return []
    return [
        Signal(
            "acd.dead_letters",
            "ACD deliveries are dead-lettered",
            f"{dead} deliveries to the ACD webhook gave up; replay them once it answers.",
        )
    ]


def _mailboxes(now: datetime) -> list[Signal]:
    found = []
    for mailbox in Mailbox.objects.filter(enabled=True).order_by("address"):
        if mailbox.health == "failed":
            found.append(
                Signal(
                    f"mailbox.{mailbox.pk}",
                    f"The mailbox {mailbox.address} is failing",
                    mailbox.last_error or mailbox.get_token_state_display(),
                )
            )
        expires = mailbox.secret_expires_at if mailbox.uses_separate_app else None
        if expires is not None and expires - now <= timedelta(days=SECRET_WARNING_DAYS):
            when = "expired" if expires <= now else "expires"
            found.append(
                Signal(
                    f"mailbox.{mailbox.pk}.secret",
                    f"The app secret of the mailbox {mailbox.address} {when}",
                    f"It {when} {expires:%Y-%m-%d %H:%M} UTC. Create a new one in Azure "
                    "and paste it on the mailbox's page.",
                )
            )
    return found


def _setup_checks() -> list[Signal]:
    run = SetupRun.objects.filter(finished_at__isnull=False).first()
    if run is None:
        return []
    return [
        Signal(
            f"setup.{row['key']}",
            f"Setup check failed: {row['title']}",
            f"{row['evidence']} {row['fix']}".strip(),
        )
        for row in run.checks
        if row["state"] == "red"
    ]


def red_signals(now: datetime) -> list[Signal]:
    """Every signal that is red at ``now``."""
    return [
        *_account(now),
        *_subscriptions(now),
        *_system_users(),
        *_deliveries(),
        *_mailboxes(now),
        *_setup_checks(),
    ]
