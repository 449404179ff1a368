"""Where Microsoft lives and who we are there: the two value objects every
token provider and Graph client is built from."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit

# Graph hosts of Microsoft's clouds. A token for one of them is requested with
# its own origin as the resource; any other host (the simulator, a test proxy)
# stands in for the global service and accepts the global resource.
MICROSOFT_GRAPH_HOSTS = frozenset(
    {
        "graph.microsoft.com",
        "graph.microsoft.us",
        "dod-graph.microsoft.us",
        "microsoftgraph.chinacloudapi.cn",
    }
)
GLOBAL_GRAPH_RESOURCE = "https://graph.microsoft.com"


def _https_origin(url: str, what: str) -> str:
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname:
        # MSAL refuses http:// authorities and we never send tokens in clear text.
        raise ValueError(f"{what} must be an https:// URL, got {url!r}")
    return f"{parts.scheme}://{parts.netloc}"


@dataclass(frozen=True)
class GraphConfig:
    """Endpoints and transport settings shared by token providers and clients.

    ``authority_host`` is the identity platform's origin (no tenant), e.g.
    ``https://login.microsoftonline.com``; ``graph_base_url`` includes the
    version, e.g. ``https://graph.microsoft.com/v1.0``. ``ca_bundle`` None
    means certifi's default trust store. ``graph_resource`` overrides the
    resource tokens are requested for (default: derived, see
    :attr:`token_resource`). ``proxy`` is an explicit HTTPS proxy URL: the
    environment's proxy variables are ignored (see :func:`graph.http.make_session`).
    Raises ValueError for non-https URLs.
    """

    authority_host: str
    graph_base_url: str
    ca_bundle: str | None = None
    timeout: float = 30.0
    max_retries: int = 5
    max_backoff: float = 60.0
    base_backoff: float = 1.0
    graph_resource: str | None = None
    proxy: str | None = None

    def __post_init__(self) -> None:
        _https_origin(self.authority_host, "authority_host")
        _https_origin(self.graph_base_url, "graph_base_url")
        # Normalise once so every URL built later has exactly one slash.
        object.__setattr__(self, "authority_host", self.authority_host.rstrip("/"))
        object.__setattr__(self, "graph_base_url", self.graph_base_url.rstrip("/"))
        if self.max_retries < 0 or self.max_backoff < 0 or self.base_backoff < 0:
            raise ValueError("max_retries, max_backoff and base_backoff must not be negative")

    @property
    def graph_origin(self) -> str:
        """``scheme://host[:port]`` of Graph; only URLs on it ever get our token."""
        return _https_origin(self.graph_base_url, "graph_base_url")

    @property
    def token_resource(self) -> str:
        """The resource app tokens are requested for (``{resource}/.default``).

        A Microsoft cloud's Graph origin for Microsoft hosts (so national clouds
        work); the global Graph resource for anything else, because a simulator
        or proxy answers for the global service and its tokens carry that
        audience.
        """
        if self.graph_resource:
            return self.graph_resource.rstrip("/")
        host = urlsplit(self.graph_base_url).hostname or ""
        return self.graph_origin if host in MICROSOFT_GRAPH_HOSTS else GLOBAL_GRAPH_RESOURCE

    @property
    def app_scope(self) -> str:
        """The client-credentials scope, e.g. ``https://graph.microsoft.com/.default``."""
        return f"{self.token_resource}/.default"


@dataclass(frozen=True)
class AppCredentials:
    """An app registration's credentials in one tenant.

    ``tenant`` is a GUID or a verified domain. The secret never appears in
    ``repr`` (so it cannot leak into logs or tracebacks).
    """

    tenant: str
    client_id: str
    client_secret: str = field(repr=False)

    @property
    def complete(self) -> bool:
        """True when tenant, client id and secret are all non-blank."""
        return all(v.strip() for v in (self.tenant, self.client_id, self.client_secret))
