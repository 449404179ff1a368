"""The chat service account: the system user ccbridge speaks as in Teams chats.

docs/graph.md, "Permissions ccbridge uses": Graph sends a chat message only for a
signed-in user (ChatMessage.Send or Chat.ReadWrite), and opening a one-on-one
chat needs Chat.Create or Chat.ReadWrite. The account is one of the presence
system users (same password, same sign-in rules: MFA off), marked for chat here.
Its token is asked for ``.default`` (every delegated scope the app was granted)
and checked for the chat scopes; the cache is its own, so presence and chat never
overwrite each other's refresh token.
"""

from __future__ import annotations

import logging
import threading

from django.db import transaction
from django.utils import timezone

from chat.models import ChatServiceAccount
from graph.client import GraphClient
from graph.errors import GraphError
from graph.tokens import DelegatedTokenProvider
from integrations import crypto
from integrations.audit import audit_record
from integrations.graphlink import app_credentials, graph_config
from integrations.jobs import task_enqueue
from integrations.services import account_get
from presence.sync_models import SystemUser

logger = logging.getLogger(__name__)

CHAT_TOKEN_SCOPES = ("https://graph.microsoft.com/.default",)
SEND_SCOPES = ("ChatMessage.Send", "Chat.ReadWrite")
CREATE_SCOPES = ("Chat.Create", "Chat.ReadWrite")

NOT_SET_UP = (
    "No chat service account is set up. An administrator marks a signed-in system user "
    "for chat on the System users page (it needs the delegated permissions "
    "ChatMessage.Send and Chat.ReadWrite)."
)


class ChatAccountError(Exception):
    """The chat service account is missing or cannot act; the message says what to do."""


# What inviting an expert takes, each met by any one of its delegated scopes.
SCOPE_NEEDS = (("Send chat messages", SEND_SCOPES), ("Open one-on-one chats", CREATE_SCOPES))


def scope_checks(scopes: set[str]) -> list[tuple[str, tuple[str, ...], bool]]:
    """(need, the scopes that meet it, whether the token holds one) for each need."""
    return [(need, options, bool(scopes & set(options))) for need, options in SCOPE_NEEDS]


def scopes_missing(scopes: set[str]) -> list[str]:
    """What the token lacks to invite experts: a sending scope and a chat-creating one."""
    return [
        f"{options[0]} (or {' or '.join(options[1:])})"
        for _need, options, held in scope_checks(scopes)
        if not held
    ]


def chat_account_get() -> ChatServiceAccount | None:
    """The chat service account row, with its system user, or None."""
    return ChatServiceAccount.objects.select_related("system_user").first()


def chat_tokens(account: ChatServiceAccount, *, fresh: bool = False) -> DelegatedTokenProvider:
    """A delegated token provider for the account (``.default``), seeded with its own
    cache unless ``fresh``. Raises ChatAccountError without an integration account."""
    integration = account_get()
    if integration is None:
        raise ChatAccountError("There is no Teams integration account; create it first.")
    user = account.system_user
    return DelegatedTokenProvider(
        graph_config(),
        app_credentials(integration),
        user.username,
        user.password,
        scopes=CHAT_TOKEN_SCOPES,
        cache_state=None if fresh else (account.token_cache or None),
    )


def chat_cache_save(account: ChatServiceAccount, tokens: DelegatedTokenProvider) -> None:
    """Store the provider's token cache, encrypted, when it changed."""
    state = tokens.cache_state()
    if state is None:
        return
    account.token_cache = state
    ChatServiceAccount.objects.filter(pk=account.pk).update(token_cache=state)


# One client per worker process, reused by every conference task while the account, its
# sign-in and the app stay the same: building one costs an OpenID discovery request and
# reading the token cache, most of a relayed message's time when each task built its own.
_shared: tuple[tuple, tuple[GraphClient, DelegatedTokenProvider]] | None = None
_shared_lock = threading.Lock()


def chat_graph_client(account: ChatServiceAccount) -> tuple[GraphClient, DelegatedTokenProvider]:
    """A Graph client acting as the chat service account (this process's, while nothing
    it was built from changed); call :func:`chat_cache_save` after use. Raises
    ChatAccountError."""
    global _shared
    integration = account_get()
    user = account.system_user
    identity = (
        account.pk, user.pk, user.username, user.password, graph_config(),
        integration and (integration.pk, integration.tenant, integration.client_id,
                         integration.client_secret),
    )  # fmt: skip
    with _shared_lock:
        if _shared is None or _shared[0] != identity:
            tokens = chat_tokens(account)
            _shared = (identity, (GraphClient(graph_config(), tokens), tokens))
        return _shared[1]


def chat_account_check(account: ChatServiceAccount) -> ChatServiceAccount:
    """Sign in as the account and record which chat scopes its token holds.

    Sets ``ready`` (and the system user's ``graph_id`` when it was unknown) when the
    token can both open chats and send; otherwise ``status_detail`` says what to
    grant. Side effects: HTTP to the identity platform. Never raises for a refusal.
    """
    user = account.system_user
    try:
        tokens = chat_tokens(account, fresh=True)
        token = tokens.acquire()
    except (ChatAccountError, crypto.SecretUnreadable) as exc:
        account.ready, account.scopes, account.status_detail = False, "", str(exc)
    except GraphError as exc:
        detail = getattr(exc, "sentence", "") or str(exc)
        account.ready, account.scopes = False, ""
        account.status_detail = f"{user.username} cannot sign in: {detail}"
    else:
        chat_cache_save(account, tokens)
        scopes = set(token.scopes)
        account.scopes = " ".join(sorted(scopes))
        missing = scopes_missing(scopes)
        account.ready = not missing
        account.status_detail = (
            ""
            if not missing
            else (
                f"The token of {user.username} lacks the delegated permission "
                f"{' and '.join(missing)}. Add it to the app registration (API permissions → "
                "Microsoft Graph → Delegated), grant admin consent, then press "
                "“Save and check chat scopes” again."
            )
        )
        oid = str(token.claims.get("oid") or "")
        if oid and user.graph_id != oid:
            SystemUser.objects.filter(pk=user.pk).update(graph_id=oid)
            user.graph_id = oid
    account.checked_at = timezone.now()
    account.save(update_fields=["ready", "scopes", "status_detail", "checked_at"])
    return account


def subscription_ensure_soon() -> None:
    """Queue the chat-message subscription's creation or repair (chat/subscription.py)
    once the transaction commits; by task name, since that module builds on this one."""
    task_enqueue("chat.subscription.ensure")


def chat_service_account_set(*, actor, system_user: SystemUser) -> ChatServiceAccount:
    """Mark ``system_user`` as the chat service account (replacing any other), check
    its token's chat scopes, and, when it is ready, queue the chat-message
    subscription. Audited. Returns the account; ``ready`` says whether it can act."""
    with transaction.atomic():
        current = ChatServiceAccount.objects.select_for_update().first()
        if current is not None and current.system_user_id != system_user.pk:
            current.delete()
            current = None
        account = current or ChatServiceAccount.objects.create(system_user=system_user)
        account.system_user = system_user
    chat_account_check(account)
    audit_record(
        actor=actor,
        action="chat_service_account.set",
        target=account,
        summary=f"Marked {system_user.username} as the chat service account"
        + ("" if account.ready else f" (not ready: {account.status_detail})"),
        changes={"system_user": system_user.username, "scopes": account.scopes},
    )
    if account.ready:
        subscription_ensure_soon()
    return account


def chat_service_account_clear(*, actor) -> None:
    """Unmark the chat service account (conferences then refuse to start). Audited."""
    account = chat_account_get()
    if account is None:
        return
    username = account.system_user.username
    account.delete()
    audit_record(
        actor=actor,
        action="chat_service_account.clear",
        summary=f"{username} is no longer the chat service account",
        changes={"system_user": username},
    )


def chat_account_ready() -> ChatServiceAccount:
    """The account, when it is marked and its last check found the chat scopes.
    Raises ChatAccountError saying what to set up."""
    account = chat_account_get()
    if account is None:
        raise ChatAccountError(NOT_SET_UP)
    if not account.ready:
        raise ChatAccountError(
            f"The chat service account {account.system_user.username} cannot chat yet: "
            f"{account.status_detail or 'check it on the System users page.'}"
        )
    if not account.system_user.graph_id:
        raise ChatAccountError(
            f"The Teams user id of {account.system_user.username} is unknown; check its sign-in."
        )
    return account
