"""The secret-expiry bar of a mailbox with an app registration of its own: the same
15-day warning as the Teams integration account's secret."""

from datetime import timedelta

from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from integrations.banners import Banner, expiry_banner
from mailboxes.models import Mailbox


def mailbox_expiry_banner(mailbox: Mailbox) -> Banner | None:
    """Pink from SECRET_EXPIRY_WARNING_DAYS before the mailbox app's secret expires,
    red once it has; None for mailboxes without an app of their own."""
    if not mailbox.uses_separate_app or mailbox.secret_expires_at is None:
        return None
    return expiry_banner(
        mailbox.secret_expires_at,
        what=f"The client secret of the app for the mailbox {mailbox.address}",
        stops="The mailbox stops receiving and sending mail",
        url=reverse("mailboxes:detail", args=[mailbox.pk]),
    )


def mailbox_expiry_banners() -> list[Banner]:
    """The bars of every mailbox whose own app's secret expires soon or has expired.
    One query on every page, which reads only the mailboxes that need a bar."""
    soon = timezone.now() + timedelta(days=settings.SECRET_EXPIRY_WARNING_DAYS)
    mailboxes = Mailbox.objects.filter(
        access_type=Mailbox.AccessType.APP,
        app_source=Mailbox.AppSource.SEPARATE,
        secret_expires_at__lte=soon,
    ).order_by("secret_expires_at")
    return [b for b in (mailbox_expiry_banner(m) for m in mailboxes) if b is not None]
