"""The integration account: create, edit, delete, and the settings edited in place."""

from typing import Any

from django.db import IntegrityError, transaction

from integrations.audit import audit_record
from integrations.crypto import SecretUnreadable
from integrations.models import CHAT_MESSAGE_DEFAULTS, IntegrationAccount
from integrations.signals import integration_account_deleted

# Fields compared for the audit log; the secret is audited only as "(changed)".
AUDITED_FIELDS = (
    "name",
    "object_id",
    "tenant",
    "client_id",
    "secret_expires_at",
    "licensing_mode",
    "phone_types",
    *CHAT_MESSAGE_DEFAULTS,
)


# What a token request and the expiry read need, as the form names them.
CREDENTIAL_FIELDS = ("tenant", "client_id", "object_id", "client_secret")


class AccountAlreadyExists(Exception):
    """Raised when a second integration account would be created."""


def account_get() -> IntegrationAccount | None:
    return IntegrationAccount.objects.first()


def _audit_value(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


def account_create(*, actor, fields: dict[str, Any], client_secret: str) -> IntegrationAccount:
    """Create the one integration account.

    Raises AccountAlreadyExists when one exists, including when another admin
    created it a moment earlier (the database constraint decides).
    """
    account = IntegrationAccount(**fields)
    account.client_secret = client_secret
    try:
        with transaction.atomic():
            account.save()
            audit_record(
                actor=actor,
                action="account.create",
                target=account,
                summary=f"Created the Teams integration account {account.name}",
                changes={
                    **{f: _audit_value(getattr(account, f)) for f in AUDITED_FIELDS},
                    "client_secret": "set",
                },
            )
    except IntegrityError:
        raise AccountAlreadyExists("A Teams integration account already exists.") from None
    return account


@transaction.atomic
def account_update(
    *, actor, account: IntegrationAccount, fields: dict[str, Any], client_secret: str = ""
) -> IntegrationAccount:
    """Apply edited fields; a non-empty `client_secret` replaces the stored one.

    Changing the tenant, client or secret drops the cached token, which
    belonged to the old credentials. Compares against the stored row (locked),
    not `account`, which a bound ModelForm may already have modified.
    """
    account = IntegrationAccount.objects.select_for_update().get(pk=account.pk)
    changes = {}
    for name, value in fields.items():
        old = getattr(account, name)
        if old != value:
            changes[name] = [_audit_value(old), _audit_value(value)]
            setattr(account, name, value)
    if "secret_expires_at" in changes:
        account.secret_expiry_source = IntegrationAccount.ExpirySource.MANUAL
    if client_secret:
        account.client_secret = client_secret
        changes["client_secret"] = "replaced"
    if {"tenant", "client_id", "client_secret"} & changes.keys():
        # Token health described the old credentials: start it afresh, so the page
        # never shows "none yet" beside an old refresh or an old failure.
        account.token_cache = ""
        account.token_expires_at = None
        account.token_refreshed_at = None
        account.token_error = ""
        account.token_error_at = None
    if not changes:
        return account
    account.save()
    audit_record(
        actor=actor,
        action="account.update",
        target=account,
        summary=f"Changed the Teams integration account ({', '.join(sorted(changes))})",
        changes=changes,
    )
    return account


@transaction.atomic
def account_delete(*, actor, account: IntegrationAccount) -> int:
    """Delete the account and disable Teams integration for every agent.

    Returns how many agents were disabled.
    """
    responses = integration_account_deleted.send(sender=IntegrationAccount, account=account)
    disabled = sum(result or 0 for _receiver, result in responses)
    name = account.name
    audit_record(
        actor=actor,
        action="account.delete",
        target=account,
        summary=f"Deleted the Teams integration account {name}; "
        f"Teams integration disabled for {disabled} agents",
        changes={"agents_disabled": disabled},
    )
    account.delete()
    return disabled


def account_unsaved_credentials(
    *, account: IntegrationAccount, posted: dict[str, str], kept_secret: str = ""
) -> dict[str, str] | None:
    """The form's credentials when they differ from the stored ones, else None.

    The secret field is write-only, so an empty one (and no `kept_secret` from a
    refused form) means "the stored secret"; the worker fills it in.
    """
    values = {name: posted.get(name, "").strip() for name in CREDENTIAL_FIELDS}
    values["client_secret"] = values["client_secret"] or kept_secret
    try:
        stored_secret = account.client_secret
    except SecretUnreadable:
        stored_secret = None
    same_secret = not values["client_secret"] or values["client_secret"] == stored_secret
    same_rest = all(
        values[name] == getattr(account, name).strip() for name in CREDENTIAL_FIELDS[:3]
    )
    return None if same_secret and same_rest else values


def account_set_phone_types(
    *, actor, account: IntegrationAccount, phone_types: list[str]
) -> IntegrationAccount:
    """Save the ordered list of phone types shown to agents (validated by the form)."""
    return account_update(actor=actor, account=account, fields={"phone_types": phone_types})


def account_reset_message(*, actor, account: IntegrationAccount, field: str) -> IntegrationAccount:
    """Put one chat system message back to its default text."""
    if field not in CHAT_MESSAGE_DEFAULTS:
        raise ValueError(f"unknown chat message {field!r}")
    return account_update(
        actor=actor, account=account, fields={field: CHAT_MESSAGE_DEFAULTS[field]}
    )
