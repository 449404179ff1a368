"""System users: Teams accounts whose delegated tokens own presence subscriptions.

Graph offers presence subscriptions only to a signed-in user (docs/graph.md,
"Permissions ccbridge uses"), so the console signs in as these accounts with
the password grant, which works only while MFA is off for them. Passwords and
token caches are encrypted at rest and never shown, logged or audited.
"""

from __future__ import annotations

import logging
import math
import re
import secrets
import string
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import DirectoryUser
from graph.client import GraphClient
from graph.errors import AuthCause, AuthError, GraphError, InvalidRequest, PermissionDenied
from graph.tokens import DEFAULT_DELEGATED_SCOPES, DelegatedTokenProvider
from integrations.audit import audit_record
from integrations.graphlink import app_credentials, app_graph_client, graph_config, token_cache_save
from integrations.services import account_get
from presence.subscriptions.plan import CAPACITY
from presence.sync_models import SystemUser

logger = logging.getLogger(__name__)

AZURE_PREFIX = "ccbridge_presence_"
USER_NOT_FOUND = 50034  # AADSTS: no such user in the tenant
AZURE_DISPLAY_NAME = "ccbridge presence {n}"
PASSWORD_LENGTH = 32
RECHECK_AFTER = timedelta(minutes=5)
# A user just created in Entra ID may not sign in for a few seconds (replication).
NEW_USER_SIGNIN_ATTEMPTS = 4
NEW_USER_SIGNIN_DELAY = 3.0
_GUID = re.compile(r"^[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}$", re.IGNORECASE)
# A user principal name: letters, digits and ' . - _ ! ^ ~ before the @ (no leading,
# trailing or doubled period), a domain after it. The name goes into the identity
# service's user-realm URL, so anything that could change that URL's path or query
# (/ \ ? # % whitespace) is refused before it is stored.
_UPN = re.compile(r"^(?!\.)(?!.*\.\.)[A-Za-z0-9'._!^~-]+(?<!\.)@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")

MFA_HINT = (
    "Microsoft requires multi-factor authentication for this account (AADSTS50076), and a "
    "background sign-in cannot answer an MFA prompt. Exclude this account from MFA: in "
    "Microsoft Entra ID either turn off security defaults, or exclude the account from every "
    "Conditional Access policy that requires MFA (Protection → Conditional Access → the "
    "policy → Users → Exclude). Then press Check sign-in."
)
WRONG_PASSWORD_HINT = (
    "The password is wrong (AADSTS50126). Enter the account's current password with Replace "
    "password, or reset it in Microsoft Entra ID (Users → the account → Reset password, and "
    "sign in once to choose a permanent one). Then press Check sign-in."
)
NOT_FOUND_HINT = (
    "The account no longer exists in the tenant (AADSTS50034): it was deleted or renamed in "
    "Microsoft Entra ID. Until it is back, the Teams users it watched get no presence changes "
    "from Teams. Either recreate it there with this user principal name (ccbridge tries the "
    "sign-in again every 5 minutes; if you gave it a new password, enter it with Replace "
    "password), or Remove it here and use Create in Azure for a new one."
)
SCOPE_MISSING_HINT = (
    "The sign-in worked but the token lacks the delegated permission Presence.Read.All. Add it "
    "to the app registration (API permissions → Microsoft Graph → Delegated) and grant admin "
    "consent, then press Check sign-in."
)


class SystemUserExists(Exception):
    """An account with this user name is already a system user."""


class SystemUserError(Exception):
    """A system user operation failed; the message is fit to show an administrator."""


def system_users_needed(mapped_agents: int) -> int:
    """How many system users ``mapped_agents`` need: one subscription each, 650 users each."""
    return math.ceil(mapped_agents / CAPACITY) if mapped_agents > 0 else 0


def system_user_add(*, actor, username: str, password: str) -> SystemUser:
    """Register an existing Teams account as a system user (not yet checked).

    Raises SystemUserExists for a user name already registered (any case).
    Audited without the password.
    """
    username = username.strip()
    if not username or not password:
        raise SystemUserError("Enter the account's user name and password.")
    if not _UPN.match(username):
        raise SystemUserError(
            f"{username!r} is not a user principal name. Enter it as name@domain, for example "
            "presence1@contoso.onmicrosoft.com: letters, digits and ' . - _ ! ^ ~ before the @, "
            "with no period first, last or twice in a row."
        )
    if SystemUser.objects.filter(username__iexact=username).exists():
        raise SystemUserExists(f"{username} is already a system user.")
    try:
        with transaction.atomic():
            user = SystemUser.objects.create(username=username, password=password)
            audit_record(
                actor=actor,
                action="system_user.add",
                target=user,
                summary=f"Added the system user {username}",
                changes={"username": username, "password": "set"},
            )
    except IntegrityError:
        raise SystemUserExists(f"{username} is already a system user.") from None
    return user


def system_user_set_password(*, actor, user: SystemUser, password: str) -> SystemUser:
    """Replace the stored password; drops the token cache (it belongs to the old
    sign-in) and marks the user unchecked. Audited without the password."""
    if not password:
        raise SystemUserError("Enter the new password.")
    user.password = password
    user.token_cache = ""
    user.status = SystemUser.Status.UNCHECKED
    user.status_detail = ""
    user.save(update_fields=["password", "token_cache", "status", "status_detail"])
    audit_record(
        actor=actor,
        action="system_user.password",
        target=user,
        summary=f"Replaced the password of the system user {user.username}",
        changes={"password": "replaced"},
    )
    return user


def system_user_set_enabled(*, actor, user: SystemUser, enabled: bool) -> SystemUser:
    """Enable or disable a system user; the next subscription sync moves its
    watched users to the others (disabled ones keep no subscription)."""
    if user.enabled == enabled:
        return user
    user.enabled = enabled
    user.save(update_fields=["enabled"])
    audit_record(
        actor=actor,
        action="system_user.enable" if enabled else "system_user.disable",
        target=user,
        summary=f"{'Enabled' if enabled else 'Disabled'} the system user {user.username}",
        changes={"enabled": enabled},
    )
    return user


# --- signing in ----------------------------------------------------------------------


def system_user_tokens(user: SystemUser, *, fresh: bool = False) -> DelegatedTokenProvider:
    """A delegated token provider for ``user`` (Presence.Read.All), seeded with
    its stored token cache unless ``fresh``. Raises SystemUserError without an account."""
    account = account_get()
    if account is None:
        raise SystemUserError("There is no Teams integration account; create it first.")
    return DelegatedTokenProvider(
        graph_config(),
        app_credentials(account),
        user.username,
        user.password,
        scopes=DEFAULT_DELEGATED_SCOPES,
        cache_state=None if fresh else (user.token_cache or None),
    )


def system_user_graph_client(user: SystemUser) -> tuple[GraphClient, DelegatedTokenProvider]:
    """A Graph client acting as ``user``; call :func:`system_user_cache_save` after use."""
    tokens = system_user_tokens(user)
    return GraphClient(graph_config(), tokens), tokens


def system_user_cache_save(user: SystemUser, tokens: DelegatedTokenProvider) -> None:
    """Store the provider's token cache, encrypted, when it changed."""
    state = tokens.cache_state()
    if state is None:
        return
    user.token_cache = state
    SystemUser.objects.filter(pk=user.pk).update(token_cache=state)


def auth_failure_status(error: AuthError) -> tuple[str, str]:
    """(status, explanation with what to do) for a refused sign-in."""
    if error.cause is AuthCause.MFA_REQUIRED:
        return SystemUser.Status.MFA_REQUIRED, MFA_HINT
    if error.cause is AuthCause.WRONG_PASSWORD:
        return SystemUser.Status.WRONG_PASSWORD, WRONG_PASSWORD_HINT
    if error.aadsts == USER_NOT_FOUND:
        return SystemUser.Status.FAILED, NOT_FOUND_HINT
    return SystemUser.Status.FAILED, error.sentence or str(error)


def system_user_not_found(user: SystemUser) -> bool:
    """True when the last sign-in said the account does not exist (AADSTS50034)."""
    return user.status == SystemUser.Status.FAILED and f"AADSTS{USER_NOT_FOUND}" in (
        user.status_detail
    )


def system_user_mark_failed(user: SystemUser, error: GraphError) -> None:
    """Record a refused or failed sign-in on ``user`` (from a check or a sync)."""
    if isinstance(error, AuthError):
        user.status, user.status_detail = auth_failure_status(error)
    else:
        user.status = SystemUser.Status.FAILED
        user.status_detail = f"The sign-in could not be completed: {error}. It is retried."
    user.checked_at = timezone.now()
    user.save(update_fields=["status", "status_detail", "checked_at"])


def system_user_check(user: SystemUser) -> SystemUser:
    """Sign in as ``user`` with its password (password grant, Presence.Read.All).

    Sets status OK (and ``graph_id`` from the token's ``oid``), MFA_REQUIRED,
    WRONG_PASSWORD or FAILED with an explanation; stores the token cache
    encrypted. Side effects: HTTP to the identity platform. Never raises for a
    refused sign-in.
    """
    try:
        tokens = system_user_tokens(user, fresh=True)
        token = tokens.acquire()
    except SystemUserError as exc:
        user.status, user.status_detail = SystemUser.Status.FAILED, str(exc)
    except GraphError as exc:
        system_user_mark_failed(user, exc)
        return user
    else:
        system_user_cache_save(user, tokens)
        user.graph_id = str(token.claims.get("oid") or user.graph_id)
        if "Presence.Read.All" in token.scopes:
            user.status, user.status_detail = SystemUser.Status.OK, ""
        else:
            user.status, user.status_detail = SystemUser.Status.FAILED, SCOPE_MISSING_HINT
    user.checked_at = timezone.now()
    user.save(update_fields=["status", "status_detail", "checked_at", "graph_id"])
    return user


def system_users_recheck(*, now: datetime | None = None) -> list[SystemUser]:
    """Sign in again as the enabled system users whose last sign-in failed for a
    reason that can pass without anyone touching the console (status FAILED: the
    account was missing or disabled, the identity platform unreachable), each at
    most every RECHECK_AFTER; returns the ones that sign in again.

    A wrong password or MFA needs an administrator, and every refused password
    counts toward the account's lockout in Entra ID, so those wait for "Check
    sign-in". Side effects: HTTP to the identity platform, the users' status.
    """
    now = now or timezone.now()
    due = SystemUser.objects.filter(enabled=True, status=SystemUser.Status.FAILED).filter(
        Q(checked_at__isnull=True) | Q(checked_at__lte=now - RECHECK_AFTER)
    )
    return [user for user in due if system_user_check(user).status == SystemUser.Status.OK]


# --- creating accounts in Entra ID -----------------------------------------------------


def strong_password(length: int = PASSWORD_LENGTH) -> str:
    """A random password with lower, upper, digits and symbols (Entra ID needs 3 of 4)."""
    symbols = "!#%*+-=?@^_~"
    classes = [string.ascii_lowercase, string.ascii_uppercase, string.digits, symbols]
    alphabet = "".join(classes)
    chars = [secrets.choice(c) for c in classes]
    chars += [secrets.choice(alphabet) for _ in range(length - len(chars))]
    secrets.SystemRandom().shuffle(chars)
    return "".join(chars)


def tenant_domain(account, client: GraphClient) -> str:
    """A verified domain of the tenant for new user principal names: the
    account's tenant when it is a domain name, else the domain most directory
    users' UPNs use (the synced directory, or Graph when it is empty)."""
    tenant = account.tenant.strip().lower()
    if tenant and not _GUID.match(tenant) and "." in tenant:
        return tenant
    upns = list(
        DirectoryUser.objects.filter(removed_reason="")
        .exclude(user_principal_name="")
        .values_list("user_principal_name", flat=True)[:500]
    )
    if not upns:
        page = client.get("/users", {"$select": "userPrincipalName", "$top": "50"}) or {}
        upns = [str(u.get("userPrincipalName") or "") for u in page.get("value") or []]
    domains = Counter(u.rpartition("@")[2].lower() for u in upns if "@" in u)
    if not domains:
        raise SystemUserError(
            "Cannot tell the tenant's domain: the directory has no users yet. Run a directory "
            "sync, or enter the tenant's domain name as the account's Directory (tenant) ID."
        )
    return domains.most_common(1)[0][0]


def _next_number() -> int:
    numbers = [
        int(match.group(1))
        for name in SystemUser.objects.filter(username__istartswith=AZURE_PREFIX).values_list(
            "username", flat=True
        )
        if (match := re.match(rf"{AZURE_PREFIX}(\d+)@", name, re.IGNORECASE))
    ]
    return max(numbers, default=0) + 1


def _check_new(user: SystemUser, sleep: Callable[[float], None]) -> SystemUser:
    for attempt in range(NEW_USER_SIGNIN_ATTEMPTS):
        system_user_check(user)
        if not system_user_not_found(user) or attempt == NEW_USER_SIGNIN_ATTEMPTS - 1:
            break
        sleep(NEW_USER_SIGNIN_DELAY)
    return user


def system_users_create_in_azure(
    *, actor, count: int, sleep: Callable[[float], None] = time.sleep, progress=None
) -> list[SystemUser]:
    """Create ``count`` accounts ``ccbridge_presence_N@<tenant domain>`` in Entra
    ID with the app token (``POST /users``, strong random passwords, no forced
    change), store them as system users and check their sign-in.

    ``progress`` (optional) is called after each account. Raises
    SystemUserError when Graph refuses (e.g. the app lacks User.ReadWrite.All).
    Audited without passwords.
    """
    if count < 1:
        return []
    account = account_get()
    if account is None:
        raise SystemUserError("There is no Teams integration account; create it first.")
    client, tokens = app_graph_client(account)
    try:
        domain = tenant_domain(account, client)
        created: list[SystemUser] = []
        number = _next_number()
        skipped = 0
        while len(created) < count:
            nickname = f"{AZURE_PREFIX}{number}"
            upn = f"{nickname}@{domain}"
            password = strong_password()
            body = {
                "accountEnabled": True,
                "displayName": AZURE_DISPLAY_NAME.format(n=number),
                "mailNickname": nickname,
                "userPrincipalName": upn,
                "passwordProfile": {"password": password, "forceChangePasswordNextSignIn": False},
            }
            number += 1
            try:
                made = client.post("/users", body) or {}
            except PermissionDenied as exc:
                raise SystemUserError(
                    "Microsoft Graph refused to create users (HTTP 403): the app needs the "
                    "application permission User.ReadWrite.All (or User.Create) with admin "
                    f"consent. ({exc.message})"
                ) from None
            except InvalidRequest as exc:
                if "already exists" in exc.message and skipped < 20:
                    skipped += 1  # e.g. left over from an earlier installation
                    continue
                raise SystemUserError(f"Microsoft Graph refused to create {upn}: {exc}") from None
            user = SystemUser.objects.create(
                username=upn,
                password=password,
                graph_id=str(made.get("id") or ""),
                created_in_azure=True,
            )
            audit_record(
                actor=actor,
                action="system_user.create_in_azure",
                target=user,
                summary=f"Created the system user {upn} in Microsoft Entra ID",
                changes={"username": upn, "password": "generated"},
            )
            created.append(_check_new(user, sleep))
            if progress is not None:
                progress(user)
        return created
    finally:
        token_cache_save(account, tokens)
