"""Claims decoding, token and credential value objects, and configuration rules."""

from __future__ import annotations

import base64
import contextlib
import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from graph.config import AppCredentials, GraphConfig
from graph.tokens import AccessToken, decode_claims


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def fake_jwt(claims: dict) -> str:
    header = b64url(json.dumps({"alg": "none"}).encode())
    return f"{header}.{b64url(json.dumps(claims).encode())}.sig"


def test_decode_claims_reads_an_unpadded_base64url_payload() -> None:
    claims = {"roles": ["User.Read.All"], "tid": "t", "name": "Zoë ✓"}
    assert decode_claims(fake_jwt(claims)) == claims


@pytest.mark.parametrize(
    "garbage",
    ["", "abc", "a.b", "a..c", "a.!!!.c", f"a.{b64url(b'[1,2]')}.c", f"a.{b64url(b'nope')}.c"],
)
def test_decode_claims_refuses_garbage_with_value_error(garbage: str) -> None:
    with pytest.raises(ValueError, match="not a JWT"):
        decode_claims(garbage)


JWTISH = st.lists(st.text(alphabet='AZaz09-_=.{}"', max_size=12), max_size=4).map(".".join)


@given(st.text() | JWTISH)
def test_decode_claims_only_ever_raises_value_error(text: str) -> None:
    with contextlib.suppress(ValueError):
        assert isinstance(decode_claims(text), dict)


def test_access_token_exposes_roles_and_scopes_but_never_prints_the_token() -> None:
    token = AccessToken(
        "eyJ.secret-bearer.value",
        datetime.now(UTC) + timedelta(hours=1),
        {"roles": ["Presence.Read.All"], "scp": "Presence.Read.All User.Read"},
    )
    assert token.roles == ("Presence.Read.All",)
    assert token.scopes == ("Presence.Read.All", "User.Read")
    assert "secret-bearer" not in repr(token)
    assert not token.expires_within(timedelta(minutes=5))
    assert AccessToken("x", token.expires_at).roles == ()


def test_credentials_repr_hides_the_secret() -> None:
    creds = AppCredentials("contoso.example", "client-1", "s3cr3t-Value~")
    assert "s3cr3t" not in repr(creds)
    assert "client-1" in repr(creds)
    assert not AppCredentials("t", "c", " ").complete


def test_config_refuses_http_authorities() -> None:
    """docs/graph.md: MSAL refuses http:// authorities and token endpoints."""
    with pytest.raises(ValueError, match="https"):
        GraphConfig("http://login.example", "https://graph.microsoft.com/v1.0")


@pytest.mark.parametrize(
    ("graph_url", "scope"),
    [
        ("https://graph.microsoft.com/v1.0", "https://graph.microsoft.com/.default"),
        ("https://graph.microsoft.us/v1.0/", "https://graph.microsoft.us/.default"),
        ("https://microsoftgraph.chinacloudapi.cn/v1.0", "https://microsoftgraph.chinacloudapi.cn/.default"),
        # A simulator or proxy answers for the global service.
        ("https://127.0.0.1:8443/v1.0", "https://graph.microsoft.com/.default"),
    ],
)  # fmt: skip
def test_app_scope_follows_the_graph_cloud(graph_url: str, scope: str) -> None:
    """docs/graph.md: client credentials use scope {resource}/.default."""
    config = GraphConfig("https://login.microsoftonline.com/", graph_url)
    assert config.app_scope == scope
    assert config.authority_host == "https://login.microsoftonline.com"
    assert not config.graph_base_url.endswith("/")
