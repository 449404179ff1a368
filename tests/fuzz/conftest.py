"""Fixtures for the fuzz tests: an API key, the real task queue, the identity platform's keys.

Hypothesis runs many examples inside one test function, so function-scoped
fixtures (the database transaction, the signed-in client) are shared by every
example of a test. That is safe here because each test either sets up what it
needs inside its body or only asserts on differences (row counts before and
after one request), and every refused request is expected to leave the
database exactly as it found it.
"""

from __future__ import annotations

import ipaddress
import json
import ssl
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from django.apps import apps
from django.db import connection
from django.test import Client
from django.urls import reverse

from integrations.apikeys import api_key_create
from integrations.models import ApiKey
from presence.webhook import views as webhook
from tests.factories import TEST_PASSWORD, AdministratorFactory
from tests.presence.support_webhook import TokenSigner
from tests.support.task_queue import task_queue_fixture  # noqa: F401 - the real broker


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """Console users are signed in with force_login: a slow hash only costs time."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def no_reject_limit(settings):
    """The fuzzers send thousands of refused requests from one address on purpose."""
    settings.WEBHOOK_REJECT_LIMIT_PER_MINUTE = 10**9


@pytest.fixture(autouse=True)
def no_api_rate_limit(settings):
    """Schemathesis sends hundreds of requests a minute with one key."""
    settings.API_RATE_LIMIT_PER_MINUTE = 10**9


def sign_in(user) -> Client:
    """A browser signed in through the login page, as a person does."""
    browser = Client()
    response = browser.post(
        reverse("console:login"), {"username": user.username, "password": TEST_PASSWORD}
    )
    assert response.status_code == 302, "sign-in failed"
    return browser


@pytest.fixture
def admin_client(db) -> Client:
    """An Administrator's browser."""
    return sign_in(AdministratorFactory(username="fuzz-admin"))


def row_counts() -> dict[str, int]:
    """Rows in every table of the project (sessions excluded: signing in writes one),
    read in one query."""
    tables = sorted(
        model._meta.db_table
        for model in apps.get_models()
        if model._meta.managed and not model._meta.proxy and model._meta.label != "sessions.Session"
    )
    quote = connection.ops.quote_name
    # Table names come from the models, never from input.
    counts = ", ".join(f"(SELECT COUNT(*) FROM {quote(table)})" for table in tables)  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {counts}")
        return dict(zip(tables, cursor.fetchone(), strict=True))


@pytest.fixture
def api_key(db) -> str:
    """A key holding every scope, as the contact center would use it."""
    _key, raw = api_key_create(actor=None, name="Fuzzer", scopes=ApiKey.Scope.values)
    return raw


# --- the identity platform's signing keys, over real HTTP -----------------------------


def _self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, as PEM files."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "keys-server.pem", directory / "keys-server.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@pytest.fixture(scope="session")
def keys_server_tls(tmp_path_factory) -> tuple[Path, Path]:
    return _self_signed(tmp_path_factory.mktemp("keys-server"))


class KeysServer:
    """A local HTTPS server publishing the signer's keys at any ``…/discovery/v2.0/keys``."""

    def __init__(self, signer: TokenSigner, cert_path: Path, key_path: Path) -> None:
        body = json.dumps(signer.jwks()).encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert_path, key_path)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.server.server_address[1]}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(name="token_signer")
def token_signer_fixture(settings, keys_server_tls) -> Iterator[TokenSigner]:
    """Signs validation tokens; the webhook fetches its keys over HTTPS as from Entra ID."""
    signer = TokenSigner()
    cert_path, key_path = keys_server_tls
    server = KeysServer(signer, cert_path, key_path)
    settings.GRAPH_AUTHORITY_HOST = server.url
    settings.GRAPH_CA_BUNDLE = str(cert_path)
    webhook.signing_keys.clear()
    yield signer
    webhook.signing_keys.clear()
    server.stop()
