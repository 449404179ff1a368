"""Sign-in lockouts (django-axes): the lockout page, its audit entry, and unlocking.

After AXES_FAILURE_LIMIT wrong passwords for one username from one address,
that username is refused from that address for AXES_COOLOFF_TIME, even with
the right password. Other users and other addresses are unaffected. An
Administrator unlocks a user from the Users page (or `manage.py
axes_reset_username <username>`).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from axes.backends import AxesStandaloneBackend
from axes.models import AccessAttempt
from axes.utils import reset
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from integrations.audit import audit_record
from integrations.models import AuditEntry

LOCKOUT_ACTION = "login.lockout"
UNLOCK_ACTION = "login.unlock"


def _cool_off() -> timedelta:
    return settings.AXES_COOLOFF_TIME


def _locked_attempts():
    since = timezone.now() - _cool_off()
    return AccessAttempt.objects.filter(
        failures_since_start__gte=settings.AXES_FAILURE_LIMIT, attempt_time__gte=since
    )


def lockouts_active() -> dict[str, datetime]:
    """Usernames locked out now (from any address), each with when its lockout ends."""
    until: dict[str, datetime] = {}
    for username, attempt_time in _locked_attempts().values_list("username", "attempt_time"):
        ends = attempt_time + _cool_off()
        if username and (username not in until or ends > until[username]):
            until[username] = ends
    return until


def lockout_clear(*, actor, username: str) -> int:
    """Lift every lockout and forget every failed attempt of `username`; audited.

    Returns how many attempt records were removed (0: nothing was locked).
    """
    removed = reset(username=username)
    if removed:
        audit_record(
            actor=actor,
            action=UNLOCK_ACTION,
            summary=f"Unlocked sign-in for {username}",
            changes={"username": username},
        )
    return removed


def lockout_response(request: HttpRequest, original_response, credentials) -> HttpResponse:
    """The page a locked-out sign-in gets instead of the login form: 429, in the console's style."""
    username = (credentials or {}).get("username") or request.POST.get("username", "")
    attempt = (
        AccessAttempt.objects.filter(
            username=username, ip_address=getattr(request, "axes_ip_address", None)
        )
        .order_by("-attempt_time")
        .first()
    )
    ends = (attempt.attempt_time if attempt else timezone.now()) + _cool_off()
    context = {
        "username": username,
        "until": ends,
        "minutes": max(int(_cool_off().total_seconds() // 60), 1),
        "failure_limit": settings.AXES_FAILURE_LIMIT,
    }
    response = render(request, "console/lockout.html", context, status=429)
    response["Retry-After"] = str(max(int((ends - timezone.now()).total_seconds()), 1))
    return response


def _record_lockout(sender, request=None, username=None, ip_address=None, **kwargs) -> None:
    # axes signals every refused attempt during a lockout; audit the lockout once.
    since = timezone.now() - _cool_off()
    already = AuditEntry.objects.filter(
        action=LOCKOUT_ACTION,
        created_at__gte=since,
        changes__username=username or "",
        changes__ip_address=ip_address or "",
    ).exists()
    if already:
        return
    audit_record(
        actor=None,
        action=LOCKOUT_ACTION,
        summary=(
            f"Sign-in locked for {username or '(no username)'} from {ip_address} after "
            f"{settings.AXES_FAILURE_LIMIT} failed attempts"
        ),
        changes={"username": username or "", "ip_address": ip_address or ""},
    )


def connect_signals() -> None:
    from axes.signals import user_locked_out

    user_locked_out.connect(_record_lockout, dispatch_uid="console.lockout.audit")


class LockoutBackend(AxesStandaloneBackend):
    """django-axes' lockout check for every sign-in that comes with a request.

    Code that authenticates without a request (a shell, a management command,
    the test client's `login`) has no address to lock out, so this backend
    stays out of its way and the next backend decides, instead of failing.
    """

    def authenticate(self, request: HttpRequest | None, *args, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, *args, **kwargs)
