"""What each kind of subscription failure means and what to do about it.

The sync stores a failure as one readable text on the Subscription row (the
error, then the hint); the health page recognises the hints in those texts to
highlight the troubleshooting entries that apply right now.
"""

from __future__ import annotations

from dataclasses import dataclass

from graph.errors import (
    AuthError,
    Conflict,
    InvalidRequest,
    PermissionDenied,
    Throttled,
    Unavailable,
)
from presence.subscriptions.system_users import MFA_HINT, WRONG_PASSWORD_HINT, auth_failure_status


@dataclass(frozen=True)
class Hint:
    kind: str
    title: str
    text: str


FORBIDDEN_HINT = (
    "Graph answered 403: the system user's token may not subscribe to presence. Give the app "
    "registration the delegated Microsoft Graph permission Presence.Read.All and grant admin "
    "consent (application permissions do not work: Graph supports presence subscriptions "
    "only for a signed-in user)."
)
VALIDATION_HINT = (
    "Microsoft could not reach the notification URL: when a subscription is created Graph "
    "POSTs a validation token to {url} and needs the answer within 10 seconds. Set "
    "CCBRIDGE_PUBLIC_URL to this console's public HTTPS address (reachable from the "
    "internet, with a certificate from a public CA) and check the firewall or proxy."
)
CONFLICT_HINT = (
    "Graph answered 409: this system user already owns a presence subscription for this app "
    "(one per user and app), e.g. left over from another installation. The console deletes "
    "the stale one and recreates its own; if this persists, remove the other installation's "
    "subscriptions or use a different system user."
)
UNAVAILABLE_HINT = (
    "Microsoft Graph was unavailable or throttling. Nothing to do: the console tries again "
    "every minute, and reconciliation polls the affected users meanwhile."
)
TROUBLESHOOTING: tuple[Hint, ...] = (
    Hint("mfa", "MFA required", MFA_HINT),
    Hint("wrong_password", "Wrong password", WRONG_PASSWORD_HINT),
    Hint("forbidden", "403: delegated Presence.Read.All not consented", FORBIDDEN_HINT),
    Hint("validation", "Validation failed: notification URL not reachable", VALIDATION_HINT),
    Hint("conflict", "409: a subscription already exists", CONFLICT_HINT),
    Hint("unavailable", "Graph unavailable or throttling", UNAVAILABLE_HINT),
)


def failure_text(error: Exception, notification_url: str) -> str:
    """What went wrong, with what to do about it (shown on the health page)."""
    if isinstance(error, AuthError):
        return f"The system user could not sign in: {auth_failure_status(error)[1]}"
    if isinstance(error, PermissionDenied):
        return f"{error}. {FORBIDDEN_HINT}"
    if isinstance(error, InvalidRequest) and error.code == "ValidationError":
        return f"{error}. {VALIDATION_HINT.format(url=notification_url)}"
    if isinstance(error, Conflict):
        return f"{error}. {CONFLICT_HINT}"
    if isinstance(error, Throttled | Unavailable):
        return f"{error}. {UNAVAILABLE_HINT}"
    return str(error)


def hint_kinds(text: str) -> set[str]:
    """The troubleshooting kinds a stored error or status text belongs to."""
    kinds = set()
    for hint in TROUBLESHOOTING:
        probe = hint.text.split("{", 1)[0][:80]
        if probe and probe in text:
            kinds.add(hint.kind)
    return kinds
