"""Read what the setup checks judge: the tenant's configuration through Graph
(app token), the system users' sign-ins, and the console's own subscriptions.

Every read that fails becomes the evidence of its row instead of stopping the
round: one missing read permission must not hide the other checks.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.conf import settings
from django.utils import timezone

from chat.models import ChatServiceAccount
from graph.applications import (
    GRAPH_APP_ID,
    consented_scopes,
    find_service_principal,
    granted_app_roles,
    read_application,
    security_defaults_enabled,
    user_directory_roles,
)
from graph.client import GraphClient
from graph.errors import AuthError, GraphError, NotFound, PermissionDenied
from graph.permissions import admin_consent_url
from integrations.graphlink import app_graph_client, graph_config, token_cache_save
from integrations.models import IntegrationAccount
from integrations.setup import checks, permissions
from integrations.setup.checks import Check, Group, State
from presence.subscriptions.system_users import system_user_check
from presence.sync_models import Subscription, SystemUser

logger = logging.getLogger(__name__)

SECTIONS = 4


def _unreadable(exc: GraphError, needs: str) -> str:
    if isinstance(exc, PermissionDenied):
        return f"The app may not read this ({needs} is not granted)."
    return f"Graph did not answer: {exc.message}"


def redirect_uri() -> str:
    """The redirect URI Microsoft sign-in comes back to on this console."""
    return settings.SETUP_REDIRECT_URI or settings.CCBRIDGE_PUBLIC_URL.rstrip("/") + "/signin/"


def features_in_use() -> set[str]:
    """The features whose permissions are needed rather than optional."""
    used = {permissions.PRESENCE, permissions.DIRECTORY}
    if ChatServiceAccount.objects.exists():
        used.add(permissions.CHAT)
    if SystemUser.objects.filter(created_in_azure=True).exists():
        used.add(permissions.CREATE_USERS)
    return used


def _registration(client: GraphClient, account: IntegrationAccount) -> list[Check]:
    object_id = account.object_id.strip()
    if not object_id:
        return checks.registration_unreadable("", object_id="")
    try:
        app = read_application(client, object_id)
    except NotFound:
        return checks.registration_unreadable(
            f"No app registration has the Object ID {object_id} in this tenant. Copy it from "
            "Azure: App registrations → the app → Overview → Object ID.",
            object_id=object_id,
        )
    except GraphError as exc:
        return [
            Check(
                "registration.found",
                Group.REGISTRATION,
                "App registration found",
                State.AMBER,
                _unreadable(exc, "Application.Read.All"),
                "Grant the app the Application.Read.All application permission so the "
                "console can read its own registration.",
            )
        ]
    return checks.registration_checks(
        app,
        client_id=account.client_id,
        secret=account.client_secret,
        redirect_uri=redirect_uri(),
        now=timezone.now(),
    )


def _permissions(client: GraphClient, account: IntegrationAccount) -> list[Check]:
    granted = consented = None
    granted_error = consented_error = ""
    try:
        sp = find_service_principal(client, account.client_id)
        graph_sp = find_service_principal(client, GRAPH_APP_ID)
    except GraphError as exc:
        granted_error = consented_error = _unreadable(exc, "Application.Read.All")
    else:
        if sp is None or graph_sp is None:
            granted, consented = set(), set()
        else:
            try:
                ids = granted_app_roles(client, sp.id)
                granted = {graph_sp.app_roles.get(i, i) for i in ids}
            except GraphError as exc:
                granted_error = _unreadable(exc, "Application.Read.All")
            try:
                consented = consented_scopes(client, sp.id)
            except GraphError as exc:
                consented_error = _unreadable(exc, "Directory.Read.All")
    return permissions.permission_checks(
        granted=granted,
        consented=consented,
        in_use=features_in_use(),
        consent_url=admin_consent_url(
            graph_config().authority_host, account.tenant.strip(), account.client_id.strip()
        ),
        granted_error=granted_error,
        consented_error=consented_error,
    )


def _accounts(client: GraphClient) -> list[Check]:
    try:
        rows = [checks.security_defaults_check(security_defaults_enabled(client))]
    except GraphError as exc:
        rows = [checks.security_defaults_check(None, error=_unreadable(exc, "Policy.Read.All"))]
    users = list(SystemUser.objects.filter(enabled=True).order_by("username"))
    if not users:
        rows.append(
            Check(
                "accounts.none",
                Group.ACCOUNTS,
                "System users",
                State.AMBER,
                "No system user yet: presence changes made in Teams cannot be followed.",
                "Add one under System users, or Create in Azure.",
            )
        )
    chat_account = ChatServiceAccount.objects.select_related("system_user").first()
    if chat_account is not None:
        rows.append(
            checks.chat_account_check(
                chat_account.system_user.username,
                ready=chat_account.ready,
                detail=chat_account.status_detail,
            )
        )
    for user in users:
        system_user_check(user)
        rows.append(
            checks.sign_in_check(
                user.username,
                ok=user.status == SystemUser.Status.OK,
                mfa=user.status == SystemUser.Status.MFA_REQUIRED,
                detail=user.status_detail,
            )
        )
        try:
            roles = user_directory_roles(client, user.graph_id or user.username)
        except GraphError as exc:
            rows.append(
                checks.roles_check(
                    user.username, None, error=_unreadable(exc, "Directory.Read.All")
                )
            )
        else:
            rows.append(checks.roles_check(user.username, roles))
    return rows


def _webhook(client: GraphClient) -> list[Check]:
    public_url = settings.CCBRIDGE_PUBLIC_URL.rstrip("/")
    active = (
        Subscription.objects.filter(status=Subscription.Status.ACTIVE)
        .order_by("created_at")
        .values_list("created_at", flat=True)
        .first()
    )
    failed = (
        Subscription.objects.filter(
            status=Subscription.Status.FAILED, last_error__contains="ValidationError"
        )
        .values_list("last_error", flat=True)
        .first()
    )
    foreign: list[str] = []
    error = ""
    try:
        for page in client.iter_pages("/subscriptions"):
            for sub in page:
                url = str(sub.get("notificationUrl") or "")
                if not url.startswith(public_url + "/") and url not in foreign:
                    foreign.append(url)
    except GraphError as exc:
        error = _unreadable(exc, "a Graph permission")
    return checks.webhook_checks(
        public_url=public_url,
        active_since=active,
        validation_error=failed or "",
        foreign_urls=foreign,
        subscriptions_error=error,
    )


def setup_checks_collect(
    account: IntegrationAccount | None, advance: Callable[[], None] = lambda: None
) -> list[Check]:
    """Every setup check, in the guides' order. Side effects: HTTP to Graph and the
    identity platform; records token health of the app and of each system user."""
    if account is None:
        return [
            Check(
                "registration.account",
                Group.REGISTRATION,
                "Teams integration account",
                State.RED,
                "There is no Teams integration account.",
                "Create it on the Teams account page with the app's details.",
            )
        ]
    missing = account.missing_credentials()
    if missing:
        return [
            Check(
                "registration.account",
                Group.REGISTRATION,
                "Teams integration account",
                State.RED,
                f"Missing: {', '.join(missing)}.",
                "Complete the Teams integration account.",
            )
        ]
    client, tokens = app_graph_client(account)
    try:
        tokens.acquire()
    except (AuthError, GraphError) as exc:
        sentence = exc.sentence if isinstance(exc, AuthError) else exc.message
        return [
            Check(
                "registration.token",
                Group.REGISTRATION,
                "App signs in",
                State.RED,
                "Error: Failed to request refresh token.",
                sentence,
            )
        ]
    token_cache_save(account, tokens)
    rows = _registration(client, account)
    advance()
    rows += _permissions(client, account)
    advance()
    rows += _accounts(client)
    advance()
    rows += _webhook(client)
    advance()
    return rows
