"""Where the console meets graph/: configuration from settings, credentials from the account.

Everything that builds a Graph client or token provider for the integration
account goes through here, so the decrypted secret lives only in memory and
the serialised token cache is always written back encrypted.
"""

from django.conf import settings

from graph.client import GraphClient
from graph.config import AppCredentials, GraphConfig
from graph.tokens import AppTokenProvider
from integrations.models import IntegrationAccount


def graph_config() -> GraphConfig:
    return GraphConfig(
        authority_host=settings.GRAPH_AUTHORITY_HOST.rstrip("/"),
        graph_base_url=settings.GRAPH_BASE_URL.rstrip("/"),
        ca_bundle=settings.GRAPH_CA_BUNDLE or None,
    )


def app_credentials(account: IntegrationAccount) -> AppCredentials:
    return AppCredentials(
        tenant=account.tenant.strip(),
        client_id=account.client_id.strip(),
        client_secret=account.client_secret,
    )


def app_token_provider(account: IntegrationAccount) -> AppTokenProvider:
    """A token provider seeded with the account's stored (decrypted) token cache."""
    return AppTokenProvider(
        graph_config(),
        app_credentials(account),
        cache_state=account.token_cache or None,
    )


def app_graph_client(account: IntegrationAccount) -> tuple[GraphClient, AppTokenProvider]:
    tokens = app_token_provider(account)
    return GraphClient(graph_config(), tokens), tokens


def token_cache_save(account: IntegrationAccount, tokens: AppTokenProvider) -> None:
    """Write the provider's token cache back, encrypted, when it changed."""
    state = tokens.cache_state()
    if state is None:
        return
    account.token_cache = state
    IntegrationAccount.objects.filter(pk=account.pk).update(token_cache=state)
