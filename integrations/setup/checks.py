"""The verdicts of the setup page, from facts already read. Pure: no I/O.

Each function takes what Graph and the console said and returns ``Check`` rows:
green (done right), amber (works, but not as recommended, or could not be
checked) or red (broken: something stops working), with the evidence and, when
not green, what to click in Azure.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from graph.applications import SINGLE_TENANT, AppRegistration, DirectoryRole
from graph.directory import PasswordCredential

# Microsoft's guidance and the contact center's: renew the secret 15 days ahead.
SECRET_WARNING_DAYS = 15
GLOBAL_ADMINISTRATOR = "62e90394-69f5-4237-9190-012177145e10"


class State(StrEnum):
    GREEN = "green"
    AMBER = "amber"
    RED = "red"


class Group(StrEnum):
    """Groups in the order of the Azure guides."""

    REGISTRATION = "App registration"
    PERMISSIONS = "API permissions"
    ACCOUNTS = "Service account and system users"
    WEBHOOK = "Public webhook"


@dataclass(frozen=True)
class Check:
    key: str
    group: str
    title: str
    state: State
    evidence: str
    fix: str = ""

    def as_json(self) -> dict:
        return {**asdict(self), "state": str(self.state), "group": str(self.group)}


def _reg(key: str, title: str, state: State, evidence: str, fix: str = "") -> Check:
    return Check(key, Group.REGISTRATION, title, state, evidence, fix)


def registration_unreadable(reason: str, *, object_id: str) -> list[Check]:
    """The registration could not be read: say why and what to do."""
    if not object_id:
        return [
            _reg(
                "registration.found",
                "App registration found",
                State.AMBER,
                "The account has no Object ID, so the registration cannot be read.",
                "Copy the Object ID from Azure (Microsoft Entra ID → App registrations → the app → "
                "Overview) into the Teams integration account.",
            )
        ]
    return [_reg("registration.found", "App registration found", State.RED, reason, "")]


def registration_checks(
    app: AppRegistration,
    *,
    client_id: str,
    secret: str,
    redirect_uri: str,
    now: datetime,
) -> list[Check]:
    """Found by Object ID and matching the Client ID; sign-in audience; the
    redirect URI; the expiry of the secret in use."""
    rows = [
        _reg(
            "registration.found",
            "App registration found",
            State.GREEN,
            f"Read “{app.display_name}” (Object ID {app.object_id}).",
        )
    ]
    if app.app_id == client_id.strip().lower():
        rows.append(
            _reg(
                "registration.client_id",
                "Matches the Client ID",
                State.GREEN,
                f"Its Application (client) ID is {app.app_id}.",
            )
        )
    else:
        rows.append(
            _reg(
                "registration.client_id",
                "Matches the Client ID",
                State.RED,
                f"The Object ID belongs to the app {app.app_id}, not to the Client ID {client_id}.",
                "Copy both the Object ID and the Application (client) ID from the same app's "
                "Overview page in Azure into the Teams integration account.",
            )
        )
    rows.append(_audience(app.sign_in_audience))
    rows.append(_redirect(app.redirect_uris, redirect_uri))
    rows.append(secret_check(app.secrets, secret=secret, now=now))
    return rows


def _audience(audience: str) -> Check:
    title = "Sign-in audience"
    if audience == SINGLE_TENANT:
        return _reg(
            "registration.audience",
            title,
            State.GREEN,
            "Single tenant: only accounts of this directory can sign in.",
        )
    return _reg(
        "registration.audience",
        title,
        State.AMBER,
        f"Sign-in audience is {audience or 'unknown'}: administrators of other tenants can "
        "consent to this app too. A multi-tenant app (as the CXone guide chooses) works, but "
        "ccbridge only ever signs in to this tenant.",
        "Single tenant is recommended: Azure → App registrations → the app → Authentication → "
        "Supported account types → Accounts in this organizational directory only.",
    )


def _redirect(uris: Sequence[str], wanted: str) -> Check:
    title = "Redirect URI for Microsoft sign-in"
    if wanted in uris:
        return _reg("registration.redirect_uri", title, State.GREEN, f"{wanted} is registered.")
    shown = ", ".join(uris) if uris else "none"
    return _reg(
        "registration.redirect_uri",
        title,
        State.RED,
        f"{wanted} is not registered (registered: {shown}).",
        f"Azure → App registrations → the app → Authentication → Add a platform → Web, and "
        f"enter {wanted} as a redirect URI.",
    )


def secret_in_use(
    credentials: Sequence[PasswordCredential], secret: str
) -> PasswordCredential | None:
    """The credential whose hint (its first characters) starts the secret in use;
    the only one when there is just one; None when Graph does not say."""
    matching = [c for c in credentials if c.hint and secret.startswith(c.hint)]
    if len(matching) == 1:
        return matching[0]
    if len(credentials) == 1:
        return credentials[0]
    return None


def secret_check(credentials: Sequence[PasswordCredential], *, secret: str, now: datetime) -> Check:
    """The 15-day rule on the secret in use: red once expired, amber within 15 days."""
    title = "Client secret expiry"
    renew = (
        "Azure → App registrations → the app → Certificates & secrets → New client secret; "
        "paste its value into the Teams integration account, then delete the old one."
    )
    used = secret_in_use(credentials, secret)
    if used is None or used.end is None:
        return _reg(
            "registration.secret",
            title,
            State.AMBER,
            "Graph does not say which of the app's secrets is in use.",
            "Delete the app's unused client secrets in Azure, so there is one to check.",
        )
    when = f"{used.end:%Y-%m-%d %H:%M} UTC"
    if used.end <= now:
        return _reg(
            "registration.secret", title, State.RED, f"The secret in use expired {when}.", renew
        )
    if used.end - now <= timedelta(days=SECRET_WARNING_DAYS):
        days = max(0, (used.end - now).days)
        return _reg(
            "registration.secret",
            title,
            State.AMBER,
            f"The secret in use expires {when}, in {days} days.",
            renew,
        )
    return _reg("registration.secret", title, State.GREEN, f"The secret in use expires {when}.")


# --- service account and system users ------------------------------------------------


def security_defaults_check(enabled: bool | None, *, error: str = "") -> Check:
    key, title, group = "accounts.security_defaults", "Security defaults", Group.ACCOUNTS
    if enabled is None:
        return Check(
            key,
            group,
            title,
            State.AMBER,
            error,
            "Grant the app the Policy.Read.All application permission so the console "
            "can read it, or check Microsoft Entra ID → Overview → Properties → "
            "Manage security defaults yourself.",
        )
    if enabled:
        return Check(
            key,
            group,
            title,
            State.RED,
            "Security defaults are on: they make every account register and use MFA, and "
            "a background sign-in of the service account and system users cannot answer it.",
            "Microsoft Entra ID → Overview → Properties → Manage security defaults → Disabled; "
            "protect the tenant with Conditional Access policies that exclude these accounts.",
        )
    return Check(key, group, title, State.GREEN, "Security defaults are off.")


def sign_in_check(username: str, *, ok: bool, mfa: bool, detail: str) -> Check:
    """One account's password sign-in, as the presence and chat features do it."""
    key, group = f"accounts.sign_in.{username.lower()}", Group.ACCOUNTS
    title = f"{username}: sign-in without MFA"
    if ok:
        return Check(key, group, title, State.GREEN, "Signed in with its password; no MFA asked.")
    evidence = "Microsoft demanded MFA (AADSTS50076)." if mfa else "The sign-in was refused."
    return Check(key, group, title, State.RED, evidence, detail)


def roles_check(username: str, roles: Iterable[DirectoryRole] | None, *, error: str = "") -> Check:
    """Flag Global Administrator: broader than ccbridge needs."""
    key, group = f"accounts.roles.{username.lower()}", Group.ACCOUNTS
    title = f"{username}: directory roles"
    if roles is None:
        return Check(
            key,
            group,
            title,
            State.AMBER,
            error,
            "Grant the app Directory.Read.All (application) so the console can read "
            "directory roles, or look at Users → the account → Assigned roles.",
        )
    roles = list(roles)
    names = ", ".join(r.display_name for r in roles) or "none"
    if any(r.role_template_id == GLOBAL_ADMINISTRATOR for r in roles):
        return Check(
            key,
            group,
            title,
            State.AMBER,
            f"Holds {names}. Global Administrator is far broader than ccbridge needs.",
            "ccbridge only needs a licensed Teams user with the app's delegated permissions "
            "consented; give it no admin role, or at most Teams Administrator. Creating system "
            "users needs the app's User.ReadWrite.All, not a role of this account. Remove the "
            "role under Users → the account → Assigned roles.",
        )
    return Check(key, group, title, State.GREEN, f"Directory roles: {names}.")


def chat_account_check(username: str, *, ready: bool, detail: str) -> Check:
    """The chat service account, as the expert chat feature last found it."""
    key, group, title = "accounts.chat_service_account", Group.ACCOUNTS, "Chat service account"
    if ready:
        return Check(key, group, title, State.GREEN, f"{username} is ready to speak in chats.")
    return Check(
        key,
        group,
        title,
        State.RED,
        f"{username} is not ready. {detail}".strip(),
        "Open System users → Chat service account, fix what it says, then press Save and "
        "check chat scopes.",
    )


# --- the public webhook ----------------------------------------------------------------


def webhook_checks(
    *,
    public_url: str,
    active_since: datetime | None,
    validation_error: str,
    foreign_urls: Sequence[str],
    subscriptions_error: str = "",
) -> list[Check]:
    """HTTPS, Graph's validation handshake (proved by a subscription Graph
    created), and no other server holding subscriptions with this app."""
    group = Group.WEBHOOK
    rows = []
    if public_url.startswith("https://"):
        rows.append(
            Check(
                "webhook.https",
                group,
                "Public URL uses HTTPS",
                State.GREEN,
                f"CCBRIDGE_PUBLIC_URL is {public_url}.",
            )
        )
    else:
        rows.append(
            Check(
                "webhook.https",
                group,
                "Public URL uses HTTPS",
                State.RED,
                f"CCBRIDGE_PUBLIC_URL is {public_url}; Graph only delivers to HTTPS URLs.",
                "Publish the console behind HTTPS with a certificate from a public authority "
                "and set CCBRIDGE_PUBLIC_URL to that https:// address.",
            )
        )
    title = "Graph reaches the webhook (validation handshake)"
    if validation_error:
        rows.append(
            Check(
                "webhook.validation",
                group,
                title,
                State.RED,
                validation_error,
                "Make the public URL reachable from the internet (firewall, proxy, "
                "DNS); Graph must get an answer within 10 seconds.",
            )
        )
    elif active_since is not None:
        rows.append(
            Check(
                "webhook.validation",
                group,
                title,
                State.GREEN,
                "Graph validated the notification URL when it created the active "
                f"subscription ({active_since:%Y-%m-%d %H:%M} UTC).",
            )
        )
    else:
        rows.append(
            Check(
                "webhook.validation",
                group,
                title,
                State.AMBER,
                "No subscription yet, so Graph has not validated the URL.",
                "Add a system user and map agents; the subscription made then "
                "proves the handshake.",
            )
        )
    title = "No other server subscribed with this app"
    if subscriptions_error:
        rows.append(Check("webhook.one_server", group, title, State.AMBER, subscriptions_error))
    elif foreign_urls:
        rows.append(
            Check(
                "webhook.one_server",
                group,
                title,
                State.RED,
                "Subscriptions of this app deliver elsewhere: " + ", ".join(foreign_urls) + ".",
                "One server per tenant: stop the other server (or give it its own app "
                "registration), then its subscriptions expire within the hour.",
            )
        )
    else:
        rows.append(
            Check(
                "webhook.one_server",
                group,
                title,
                State.GREEN,
                "Every subscription of this app delivers to this console.",
            )
        )
    return rows


def overall(checks: Iterable[Check | dict]) -> State:
    """Red if any is red, else amber if any is amber, else green."""
    states = {str(c["state"] if isinstance(c, dict) else c.state) for c in checks}
    if State.RED in states:
        return State.RED
    if State.AMBER in states:
        return State.AMBER
    return State.GREEN
