"""Helpers for the Teams → contact center tests.

Builds change notifications exactly as Graph does (docs/graph.md, "Change
notifications": RSA-OAEP(SHA-1) key wrap, AES-256-CBC with IV = key[:16],
HMAC-SHA256 over the ciphertext), signs validation tokens with a test key that
the webhook is made to trust, and runs a tiny ACD webhook receiver.

Fixtures are defined with ``name=`` so a test module imports the function
(``*_fixture``) and asks for the short name without shadowing it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, padding
from cryptography.hazmat.primitives.asymmetric import padding as asym_padding
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from accounts.models import Agent
from presence.rules import services
from presence.subscriptions.certificates import certificate_active
from presence.sync_models import (
    AcdEndpoint,
    NotificationCertificate,
    Subscription,
    WebhookCounter,
)
from presence.webhook import views as webhook
from presence.webhook.notifications import NOTIFICATION_PUBLISHER_APP_ID
from tests.accounts.factories import (
    AgentFactory,
    AgentMappingFactory,
    BusinessUnitFactory,
    DirectoryUserFactory,
)
from tests.integrations.factories import IntegrationAccountFactory
from tests.presence.factories import SubscriptionFactory, SystemUserFactory

TENANT_ID = "8c3f7a52-7d4e-4a8e-9d0b-3b1f2d6c9e10"
CLIENT_ID = "4a1d2c3b-5e6f-4a7b-8c9d-0e1f2a3b4c5d"
ACD_SECRET = "acd-shared-secret-0123456789"


# --- Graph's encryption ---------------------------------------------------------------


def public_key_of(certificate: NotificationCertificate) -> rsa.RSAPublicKey:
    cert = x509.load_pem_x509_certificate(certificate.certificate_pem.encode())
    key = cert.public_key()
    assert isinstance(key, rsa.RSAPublicKey)
    return key


def graph_oaep() -> asym_padding.OAEP:
    """RSA-OAEP with SHA-1, as Graph wraps the symmetric key."""
    return asym_padding.OAEP(
        mgf=asym_padding.MGF1(algorithm=hashes.SHA1()),  # noqa: S303 - Graph's choice
        algorithm=hashes.SHA1(),  # noqa: S303
        label=None,
    )


def encrypt_like_graph(
    public_key: rsa.RSAPublicKey, certificate_id: str, resource: dict[str, Any] | bytes
) -> dict[str, str]:
    """``encryptedContent`` as Graph sends it, for ``resource`` (JSON, or raw bytes)."""
    key = secrets.token_bytes(32)
    plain = resource if isinstance(resource, bytes) else json.dumps(resource).encode()
    padder = padding.PKCS7(128).padder()
    encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    data = encryptor.update(padder.update(plain) + padder.finalize()) + encryptor.finalize()
    data_key = public_key.encrypt(key, graph_oaep())
    return {
        "data": base64.b64encode(data).decode(),
        "dataSignature": base64.b64encode(hmac.new(key, data, hashlib.sha256).digest()).decode(),
        "dataKey": base64.b64encode(data_key).decode(),
        "encryptionCertificateId": certificate_id,
        "encryptionCertificateThumbprint": "",
    }


def presence_resource(user_id: str, availability: str, activity: str, sequence: int) -> dict:
    odata_id = f"communications/presences('{user_id}')"
    return {
        "@odata.type": "#Microsoft.Graph.presence",
        "@odata.id": odata_id,
        "id": user_id,
        "availability": availability,
        "activity": activity,
        "statusMessage": None,
        "outOfOfficeSettings": {"message": None, "isOutOfOffice": False},
        "sequenceNumber": f"{sequence:020d}",
    }


def flip_byte(b64: str, index: int = 0) -> str:
    raw = bytearray(base64.b64decode(b64))
    raw[index] ^= 0x01
    return base64.b64encode(bytes(raw)).decode()


# --- validation tokens ------------------------------------------------------------------


@dataclass
class TokenSigner:
    """Signs validation tokens the way the identity platform does, with a test key."""

    key: rsa.RSAPrivateKey = field(
        default_factory=lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )
    kid: str = field(default_factory=lambda: uuid.uuid4().hex)
    fetches: list[str] = field(default_factory=list)

    def jwks(self) -> dict[str, Any]:
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        return {"keys": [{**jwk, "kid": self.kid, "use": "sig"}]}

    def token(
        self, *, client_id: str = CLIENT_ID, tenant_id: str = TENANT_ID, **overrides: Any
    ) -> str:
        now = int(time.time())
        claims = {
            "aud": client_id,
            "iss": f"https://sts.windows.net/{tenant_id}/",
            "iat": now,
            "nbf": now,
            "exp": now + 3600,
            "appid": NOTIFICATION_PUBLISHER_APP_ID,
            "azp": NOTIFICATION_PUBLISHER_APP_ID,
            "tid": tenant_id,
            "ver": "1.0",
        }
        claims.update(overrides)
        claims = {k: v for k, v in claims.items() if v is not None}
        return jwt.encode(claims, self.key, algorithm="RS256", headers={"kid": self.kid})


@pytest.fixture(name="token_signer")
def token_signer_fixture(monkeypatch) -> TokenSigner:
    """A signer whose keys the webhook fetches instead of the identity platform's."""
    signer = TokenSigner()

    def fetch(url: str) -> dict[str, Any]:
        signer.fetches.append(url)
        return signer.jwks()

    webhook.signing_keys.clear()
    monkeypatch.setattr(webhook.signing_keys, "fetch", fetch)
    yield signer
    webhook.signing_keys.clear()


# --- console rows -----------------------------------------------------------------------


def account_create(*, tenant: str = TENANT_ID, client_id: str = CLIENT_ID, secret: str = "s3cret"):
    return IntegrationAccountFactory(tenant=tenant, client_id=client_id, client_secret=secret)


def subscription_create(
    *, client_state: str, graph_id: str | None = None, username: str | None = None, **fields
) -> Subscription:
    user = SystemUserFactory(
        username=username or f"ccbridge_{uuid.uuid4().hex[:8]}@contoso.example"
    )
    fields.setdefault("expires_at", None)
    return SubscriptionFactory(
        system_user=user,
        graph_id=graph_id or str(uuid.uuid4()),
        client_state=client_state,
        **fields,
    )


def acd_endpoint_set(url: str, secret: str = ACD_SECRET, enabled: bool = True) -> AcdEndpoint:
    endpoint = AcdEndpoint.objects.first() or AcdEndpoint()
    endpoint.url, endpoint.enabled = url, enabled
    endpoint.secret = secret
    endpoint.save()
    return endpoint


def subscriber_rule(
    unit,
    rows,
    *,
    name: str = "Teams to ACD",
    direction: str = "subscriber",
    on_mapping: str = "apply",
):
    """A saved rule with subscriber rows ``(availability, activity|None, state, reason|None)``.

    It applies the first presence after mapping too (``on_mapping``), since the tests that
    use it follow presence changes of agents they map just before; tests of what mapping
    does choose "keep", the default of a rule an admin makes.
    """
    return services.rule_save(
        actor=None,
        business_unit=unit,
        name=name,
        direction=direction,
        publisher_rows=[],
        subscriber_rows=[services.SubscriberRowInput(*row) for row in rows],
        on_mapping=on_mapping,
    )


def mapped_agent(*, graph_id: str | None = None, unit=None, rule=None, **fields) -> Agent:
    """An agent mapped to a directory user (``graph_id``), with its own rule if given."""
    unit = unit or BusinessUnitFactory(name="Voice", code="voice")
    agent = AgentFactory(business_unit=unit, **fields)
    user = DirectoryUserFactory(graph_id=graph_id or str(uuid.uuid4()))
    AgentMappingFactory(agent=agent, directory_user=user)
    if rule is not None:
        services.agent_rule_set(actor=None, agent=agent, rule=rule)
    return Agent.objects.select_related("mapping__directory_user").get(pk=agent.pk)


def counter(name: str) -> int:
    row = WebhookCounter.objects.filter(name=name).first()
    return row.count if row else 0


@dataclass
class Graphish:
    """A webhook test bed: account, certificate, one subscription, a token signer."""

    certificate: NotificationCertificate
    subscription: Subscription
    client_state: str
    signer: TokenSigner

    def item(
        self,
        user_id: str,
        availability: str = "Busy",
        activity: str = "InACall",
        sequence: int = 1,
        **overrides: Any,
    ) -> dict[str, Any]:
        resource = presence_resource(user_id, availability, activity, sequence)
        item = {
            "subscriptionId": self.subscription.graph_id,
            "subscriptionExpirationDateTime": "2030-01-01T00:00:00.0000000Z",
            "changeType": "updated",
            "resource": resource["@odata.id"],
            "resourceData": {
                "@odata.type": "#Microsoft.Graph.presence",
                "@odata.id": resource["@odata.id"],
                "id": user_id,
            },
            "clientState": self.client_state,
            "tenantId": TENANT_ID,
            "encryptedContent": encrypt_like_graph(
                public_key_of(self.certificate), self.certificate.certificate_id, resource
            ),
        }
        item.update(overrides)
        return item

    def body(self, *items: dict[str, Any], tokens: list[str] | None = None) -> dict[str, Any]:
        return {
            "value": list(items),
            "validationTokens": [self.signer.token()] if tokens is None else tokens,
        }


@pytest.fixture(name="graphish")
def graphish_fixture(db, token_signer) -> Graphish:
    account_create()
    client_state = secrets.token_urlsafe(48)
    return Graphish(
        certificate=certificate_active(),
        subscription=subscription_create(client_state=client_state),
        client_state=client_state,
        signer=token_signer,
    )


# --- the ACD webhook receiver ------------------------------------------------------------


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> dict[str, Any]:
        return json.loads(self.body)


class AcdReceiver:
    """A local HTTP server playing the ACD: records each POST, answers ``statuses`` in
    turn (then ``default``)."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.statuses: list[int] = []
        self.default = 200
        self.delay = 0.0  # seconds before answering (a slow ACD)
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                with receiver.lock:
                    receiver.received.append(Received(dict(self.headers.items()), body))
                    status = receiver.statuses.pop(0) if receiver.statuses else receiver.default
                time.sleep(receiver.delay)
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(b"ok" if status < 300 else b"receiver says no")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/acd/presence"

    def start(self) -> AcdReceiver:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(name="acd_receiver")
def acd_receiver_fixture():
    receiver = AcdReceiver().start()
    yield receiver
    receiver.stop()


def signature_valid(received: Received, secret: str = ACD_SECRET, max_age: int = 300) -> bool:
    """What the ACD does: recompute the HMAC over ``timestamp.body``, check the age."""
    timestamp = received.headers.get("X-Ccbridge-Timestamp", "")
    given = received.headers.get("X-Ccbridge-Signature", "")
    if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > max_age:
        return False
    expected = hmac.new(
        secret.encode(), timestamp.encode() + b"." + received.body, hashlib.sha256
    ).hexdigest()
    return hmac.compare_digest(given, f"sha256={expected}")


LONG_AGO = timedelta(days=1)
