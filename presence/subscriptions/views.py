"""System users and subscription health: Administrators manage, Supervisors watch."""

import math
from datetime import datetime
from urllib.parse import urlsplit

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.db import transaction
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from integrations.jobs import job_enqueue
from integrations.models import JobRun
from presence.board.health import system_users_summary
from presence.subscriptions import tasks
from presence.subscriptions.certificates import certificate_rotate
from presence.subscriptions.hints import TROUBLESHOOTING, hint_kinds
from presence.subscriptions.plan import CAPACITY
from presence.subscriptions.services import NOTIFICATION_PATH, mapped_users, system_user_remove
from presence.subscriptions.system_users import (
    SystemUserError,
    SystemUserExists,
    system_user_add,
    system_user_check,
    system_user_set_enabled,
    system_user_set_password,
    system_users_needed,
)
from presence.sync_models import NotificationCertificate, Subscription, SystemUser

USERS_TEMPLATE = "presence/sync/system_users.html"
HEALTH_TEMPLATE = "presence/sync/subscriptions.html"
MAX_CREATE = 50


class SystemUserAddForm(forms.Form):
    username = forms.CharField(
        label="User name (UPN)",
        max_length=320,
        help_text="An existing account in the tenant, e.g. presence1@contoso.com. MFA must be "
        "off for it.",
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    password = forms.CharField(
        label="Password",
        help_text="Stored encrypted; never shown again.",
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}, render_value=False),
    )


class CreateInAzureForm(forms.Form):
    count = forms.IntegerField(label="How many", min_value=1, max_value=MAX_CREATE)


class PasswordForm(forms.Form):
    password = forms.CharField(
        label="New password",
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}, render_value=False),
    )


# --- system users ------------------------------------------------------------------------


def _users_context(request: HttpRequest, add_form=None, create_form=None) -> dict:
    users = list(SystemUser.objects.annotate(member_count=Count("subscription__members")))
    mapped = mapped_users().count()
    summary = system_users_summary(mapped=mapped)
    # Only accounts that sign in own subscriptions, so only they count as enough.
    suggested = summary.missing
    perms = request.user
    return {
        "users": users,
        "mapped": mapped,
        "needed": summary.needed,
        "enabled_count": summary.enabled,
        "ok_count": summary.working,
        "failing_count": summary.failing,
        "suggested": suggested,
        "capacity": CAPACITY,
        "add_form": add_form or SystemUserAddForm(),
        "create_form": create_form or CreateInAzureForm(initial={"count": suggested or 1}),
        "password_form": PasswordForm(),
        "create_job": JobRun.objects.filter(kind=tasks.CREATE_KIND).first(),
        "can_add": perms.has_perm("presence.add_systemuser"),
        "can_change": perms.has_perm("presence.change_systemuser"),
        "can_delete": perms.has_perm("presence.delete_systemuser"),
        "can_view_health": perms.has_perm("presence.view_subscription"),
    }


@require_http_methods(["GET", "POST"])
@permission_required("presence.view_systemuser", raise_exception=True)
def system_users(request: HttpRequest) -> HttpResponse:
    """The pool: list with sign-in status and what to do; add an existing account."""
    if request.method == "GET":
        return render(request, USERS_TEMPLATE, _users_context(request))
    if not request.user.has_perm("presence.add_systemuser"):
        return render(request, "403.html", status=403)
    form = SystemUserAddForm(request.POST)
    if form.is_valid():
        try:
            user = system_user_add(
                actor=request.user,
                username=form.cleaned_data["username"],
                password=form.cleaned_data["password"],
            )
        except (SystemUserExists, SystemUserError) as exc:
            form.add_error("username", str(exc))
        else:
            system_user_check(user)
            if user.status == SystemUser.Status.OK:
                tasks.subscriptions_sync_now(user=request.user)
                messages.success(request, f"Added {user.username}; it signed in.")
            else:
                messages.error(request, f"Added {user.username}, but it cannot sign in yet.")
            return redirect("sync:system_users")
    return render(request, USERS_TEMPLATE, _users_context(request, add_form=form), status=400)


@require_POST
@permission_required("presence.add_systemuser", raise_exception=True)
def system_users_create(request: HttpRequest) -> HttpResponse:
    """ "Create N in Azure": a background job (POST /users, then sign-in checks)."""
    form = CreateInAzureForm(request.POST)
    if not form.is_valid():
        context = _users_context(request, create_form=form)
        return render(request, USERS_TEMPLATE, context, status=400)
    with transaction.atomic():
        job = job_enqueue(
            kind=tasks.CREATE_KIND,
            task=tasks.system_users_create_job,
            user=request.user,
            count=form.cleaned_data["count"],
        )
    messages.success(request, f"Creating {form.cleaned_data['count']} system user(s) in Azure…")
    if request.htmx:
        return render(request, "console/job_detail.html#progress", {"job": job})
    return redirect("sync:system_users")


@require_POST
@permission_required("presence.change_systemuser", raise_exception=True)
def system_user_check_view(request: HttpRequest, pk: int) -> HttpResponse:
    """ "Check sign-in": the password grant, right now."""
    user = system_user_check(get_object_or_404(SystemUser, pk=pk))
    if user.status == SystemUser.Status.OK:
        tasks.subscriptions_sync_now(user=request.user)
        messages.success(request, f"{user.username} signed in.")
    else:
        messages.error(request, f"{user.username}: {user.get_status_display()}.")
    return redirect("sync:system_users")


@require_POST
@permission_required("presence.change_systemuser", raise_exception=True)
def system_user_password(request: HttpRequest, pk: int) -> HttpResponse:
    """Replace a system user's password, then check its sign-in."""
    user = get_object_or_404(SystemUser, pk=pk)
    form = PasswordForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Enter the new password.")
        return redirect("sync:system_users")
    system_user_set_password(actor=request.user, user=user, password=form.cleaned_data["password"])
    return system_user_check_view(request, pk)


@require_POST
@permission_required("presence.change_systemuser", raise_exception=True)
def system_user_toggle(request: HttpRequest, pk: int) -> HttpResponse:
    """Enable or disable (``enabled`` = "1" or "0")."""
    user = get_object_or_404(SystemUser, pk=pk)
    enabled = request.POST.get("enabled") == "1"
    system_user_set_enabled(actor=request.user, user=user, enabled=enabled)
    tasks.subscriptions_sync_now(user=request.user)
    messages.success(request, f"{'Enabled' if enabled else 'Disabled'} {user.username}.")
    return redirect("sync:system_users")


@require_http_methods(["GET", "POST"])
@permission_required("presence.delete_systemuser", raise_exception=True)
def system_user_remove_view(request: HttpRequest, pk: int) -> HttpResponse:
    """Confirm, then remove (its subscription goes too; the account stays in Azure)."""
    user = get_object_or_404(SystemUser, pk=pk)
    if request.method == "GET":
        return render(request, "presence/sync/system_users_remove.html", {"system_user": user})
    try:
        system_user_remove(actor=request.user, user=user)
    except SystemUserError as exc:
        messages.error(request, str(exc))
        return redirect("sync:system_users")
    tasks.subscriptions_sync_now(user=request.user)
    messages.success(request, f"Removed {user.username}.")
    return redirect("sync:system_users")


# --- subscription health -----------------------------------------------------------------


def expires_in(moment: datetime | None, now: datetime) -> str:
    """ "expires in 42 min", "expired 3 min ago", or "—"."""
    if moment is None:
        return "—"
    seconds = (moment - now).total_seconds()
    if 0 < seconds < 60:
        return "expires in under a minute"
    if seconds >= 60:
        minutes = math.floor(seconds / 60)
        return f"expires in {minutes} min"
    return f"expired {math.ceil(-seconds / 60)} min ago"


def _public_url_warning() -> str:
    url = settings.CCBRIDGE_PUBLIC_URL
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname not in ("127.0.0.1", "localhost", "::1"):
        return ""
    return (
        f"CCBRIDGE_PUBLIC_URL is {url}. That works with the bundled simulator only: Microsoft "
        "delivers notifications to a public HTTPS address, so production needs this console's "
        "public https:// URL."
    )


def _health_context(request: HttpRequest) -> dict:
    now = timezone.now()
    rows = list(
        Subscription.objects.select_related("system_user", "certificate")
        .annotate(member_count=Count("members"))
        .order_by("system_user__username")
    )
    for row in rows:
        row.expiry_text = expires_in(row.expires_at, now)
        row.fill_percent = round(100 * row.member_count / CAPACITY)
    users = list(SystemUser.objects.all())
    active_kinds: set[str] = set()
    for row in rows:
        active_kinds |= hint_kinds(row.last_error)
    for user in users:
        if user.enabled and user.status == SystemUser.Status.MFA_REQUIRED:
            active_kinds.add("mfa")
        if user.enabled and user.status == SystemUser.Status.WRONG_PASSWORD:
            active_kinds.add("wrong_password")
    mapped = mapped_users().count()
    covered = (
        mapped_users().filter(subscriptions__status=Subscription.Status.ACTIVE).distinct().count()
    )
    ok_users = sum(1 for u in users if u.enabled and u.status == SystemUser.Status.OK)
    notification_url = settings.CCBRIDGE_PUBLIC_URL.rstrip("/") + NOTIFICATION_PATH
    hints = [
        {
            "kind": h.kind,
            "title": h.title,
            "text": h.text.format(url=notification_url),
            "active": h.kind in active_kinds,
        }
        for h in TROUBLESHOOTING
    ]
    return {
        "rows": rows,
        "capacity": CAPACITY,
        "mapped": mapped,
        "covered": covered,
        "not_covered": mapped - covered,
        "needed": system_users_needed(mapped),
        "ok_users": ok_users,
        "missing_users": max(system_users_needed(mapped) - ok_users, 0),
        "hints": hints,
        "public_url_warning": _public_url_warning(),
        "notification_url": notification_url,
        "certificate": NotificationCertificate.objects.filter(active=True).first(),
        "sync_job": JobRun.objects.filter(kind=tasks.SYNC_KIND).first(),
        "can_sync": request.user.has_perm("presence.change_subscription"),
        "can_manage_users": request.user.has_perm("presence.view_systemuser"),
        "now": now,
    }


@require_GET
@permission_required("presence.view_subscription", raise_exception=True)
def subscriptions(request: HttpRequest) -> HttpResponse:
    """Subscription health; htmx polls the "health" partial every 10 s."""
    context = _health_context(request)
    if request.htmx:
        return render(request, f"{HEALTH_TEMPLATE}#health", context)
    return render(request, HEALTH_TEMPLATE, context)


@require_POST
@permission_required("presence.change_subscription", raise_exception=True)
def subscriptions_sync(request: HttpRequest) -> HttpResponse:
    """ "Sync subscriptions now": enqueue a sync job."""
    job = tasks.subscriptions_sync_now(user=request.user)
    if request.htmx:
        return render(request, "console/job_detail.html#progress", {"job": job})
    messages.success(request, "Subscription sync queued.")
    return redirect("sync:subscriptions")


@require_POST
@permission_required("presence.change_subscription", raise_exception=True)
def certificate_rotate_view(request: HttpRequest) -> HttpResponse:
    """New notification key; subscriptions move to it on the next sync."""
    certificate_rotate(actor=request.user)
    tasks.subscriptions_sync_now(user=request.user)
    messages.success(
        request,
        "New notification certificate made; subscriptions move to it now. The old key keeps "
        "decrypting for a few hours.",
    )
    return redirect("sync:subscriptions")
