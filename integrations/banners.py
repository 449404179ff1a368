"""The secret-expiry bar shown on every page."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format

from integrations.models import IntegrationAccount


@dataclass(frozen=True)
class Banner:
    level: str  # "warning" (pink) or "danger" (red)
    text: str
    url: str
    link_text: str


def secret_expiry_banner(
    account: IntegrationAccount | None, *, now: datetime | None = None
) -> Banner | None:
    """Pink from SECRET_EXPIRY_WARNING_DAYS before the secret expires, red once it has."""
    if account is None or account.secret_expires_at is None:
        return None
    return expiry_banner(
        account.secret_expires_at,
        what="The Teams integration client secret",
        stops="Teams integration stops working",
        url=reverse("integrations:account"),
        now=now,
    )


def expiry_banner(
    expires_at: datetime, *, what: str, stops: str, url: str, now: datetime | None = None
) -> Banner | None:
    """Pink from SECRET_EXPIRY_WARNING_DAYS before ``what`` expires, red once it has;
    None before that. ``stops`` says what breaks."""
    now = now or timezone.now()
    day = date_format(timezone.localtime(expires_at), "j F Y")
    if expires_at <= now:
        return Banner(
            "danger",
            f"{what} expired on {day}. {stops} until a new secret is entered.",
            url,
            "Replace the secret",
        )
    if expires_at - now <= timedelta(days=settings.SECRET_EXPIRY_WARNING_DAYS):
        days_left = (expires_at - now).days
        when = "tomorrow" if days_left < 1 else f"in {days_left + 1} days"
        return Banner("warning", f"{what} expires on {day} ({when}).", url, "Renew it now")
    return None
