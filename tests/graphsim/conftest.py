"""Fixtures shared by the graphsim tests (the server itself comes from
``tests.plugins.graphsim_server``)."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from tests.graphsim.support import Graph, Webhook, app_token, user_token
from tests.plugins.graphsim_server import GraphSimServer, SimTenant

SYSTEM_PASSWORD = "Sys-User-Passw0rd!"


@pytest.fixture
def graph(graphsim: GraphSimServer, sim_tenant: SimTenant) -> Graph:
    """A Graph client with the ccbridge app's app-only token."""
    return Graph(graphsim, app_token(graphsim, sim_tenant))


@dataclass
class SystemUser:
    id: str
    upn: str
    password: str
    graph: Graph
    tokens: dict


@pytest.fixture
def system_user(graphsim: GraphSimServer, sim_tenant: SimTenant) -> SystemUser:
    """A service account with a password (MFA off) and its delegated Graph client."""
    user = graphsim.control.create_user(
        sim_tenant.tenant_id,
        displayName="ccbridge System 1",
        mailNickname="ccbridge_system1",
        password=SYSTEM_PASSWORD,
    )
    tokens = user_token(graphsim, sim_tenant, user["userPrincipalName"], SYSTEM_PASSWORD)
    return SystemUser(
        user["id"],
        user["userPrincipalName"],
        SYSTEM_PASSWORD,
        Graph(graphsim, tokens["access_token"]),
        tokens,
    )


@dataclass
class EncryptionKey:
    private_key: rsa.RSAPrivateKey
    certificate_b64: str
    certificate_id: str


@pytest.fixture(scope="session")
def encryption_key() -> EncryptionKey:
    """The test's own RSA key and self-signed certificate for rich notifications."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ccbridge-test-notifications")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    der = cert.public_bytes(serialization.Encoding.DER)
    return EncryptionKey(key, base64.b64encode(der).decode(), "test-cert-1")


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    """A local HTTP receiver for validation handshakes and notifications."""
    hook = Webhook()
    yield hook
    hook.close()
