"""Where a mailbox meets graph/: the Graph client that signs in the way the mailbox
says, and the token cache written back encrypted after use."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from graph.client import GraphClient
from graph.config import AppCredentials
from graph.tokens import AppTokenProvider
from integrations.graphlink import app_graph_client, graph_config, token_cache_save
from integrations.services import account_get
from mailboxes.models import Mailbox


class MailboxSignInError(Exception):
    """The mailbox cannot sign in at all (nothing to sign in with); the message says why."""


@dataclass
class MailboxGraph:
    """A Graph client for one mailbox, the path segment that names the mailbox
    (its address, or "" for ``/me``), and ``save`` to keep the token cache."""

    client: GraphClient
    mailbox_path: str
    save: Callable[[], None]
    client_id: str


def mailbox_graph(mailbox: Mailbox) -> MailboxGraph:
    """The Graph client ``mailbox`` signs in with. Raises MailboxSignInError when there
    is nothing to sign in with (no Teams account; no signed-in user yet)."""
    if mailbox.access_type == Mailbox.AccessType.DELEGATED:
        raise MailboxSignInError(
            "Nobody has signed in for this mailbox yet: press Sign in with Microsoft."
        )
    if mailbox.app_source == Mailbox.AppSource.TEAMS_ACCOUNT:
        account = account_get()
        if account is None:
            raise MailboxSignInError(
                "There is no Teams integration account, whose app this mailbox uses; create "
                "it, or give the mailbox an app registration of its own."
            )
        client, tokens = app_graph_client(account)
        return MailboxGraph(
            client, mailbox.address, lambda: token_cache_save(account, tokens), account.client_id
        )
    tokens = AppTokenProvider(
        graph_config(),
        AppCredentials(mailbox.tenant.strip(), mailbox.client_id.strip(), mailbox.client_secret),
        cache_state=mailbox.token_cache or None,
    )

    def save() -> None:
        state = tokens.cache_state()
        if state is not None:
            Mailbox.objects.filter(pk=mailbox.pk).update(token_cache=state)

    return MailboxGraph(
        GraphClient(graph_config(), tokens), mailbox.address, save, mailbox.client_id.strip()
    )
