"""The notification certificate: made once, private key encrypted at rest,
accepted by Graph, rotated with a grace period for notifications in flight.

docs/graph.md, "Change notifications": dataKey is RSA-OAEP (SHA-1) of a 32-byte
key; HMAC-SHA256(key, data) must equal dataSignature before decrypting;
AES-CBC with PKCS7 and IV = the key's first 16 bytes.
"""

import base64
import hashlib
import hmac
import json
from datetime import timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, padding
from cryptography.hazmat.primitives.asymmetric import padding as asym_padding
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from django.urls import reverse
from django.utils import timezone

from integrations.models import AuditEntry
from presence.subscriptions.certificates import (
    ROTATION_GRACE,
    certificate_active,
    certificate_rotate,
    encryption_certificate_b64,
    private_key_for,
)
from presence.subscriptions.services import subscriptions_sync
from presence.subscriptions.system_users import system_user_add, system_user_check
from presence.sync_models import NotificationCertificate, Subscription
from tests.plugins.celery_worker import wait_for
from tests.presence.support_sync import (
    SYSTEM_PASSWORD,
    handshake_fixture,  # noqa: F401
    map_agents,
    sim_account,
    sim_system_user,
    small_tenant_fixture,  # noqa: F401
)
from tests.support.secrets import stored_value


def decrypt(encrypted: dict, key: rsa.RSAPrivateKey) -> dict:
    """Graph's rich-notification decryption, written out from docs/graph.md."""
    symmetric = key.decrypt(
        base64.b64decode(encrypted["dataKey"]),
        asym_padding.OAEP(
            mgf=asym_padding.MGF1(algorithm=hashes.SHA1()),  # noqa: S303
            algorithm=hashes.SHA1(),  # noqa: S303
            label=None,
        ),
    )
    data = base64.b64decode(encrypted["data"])
    signature = hmac.new(symmetric, data, hashlib.sha256).digest()
    assert hmac.compare_digest(signature, base64.b64decode(encrypted["dataSignature"]))
    decryptor = Cipher(algorithms.AES(symmetric), modes.CBC(symmetric[:16])).decryptor()
    unpadder = padding.PKCS7(128).unpadder()
    plain = unpadder.update(decryptor.update(data) + decryptor.finalize()) + unpadder.finalize()
    return json.loads(plain)


def test_the_certificate_is_made_once_with_an_encrypted_rsa_2048_key(db):
    first = certificate_active()
    assert certificate_active() == first
    assert NotificationCertificate.objects.count() == 1
    assert "PRIVATE KEY" not in stored_value(first, "private_key")
    der = base64.b64decode(encryption_certificate_b64(first))
    cert = x509.load_der_x509_certificate(der)
    assert cert.public_key().key_size == 2048
    assert first.thumbprint == hashlib.sha1(der).hexdigest().upper()  # noqa: S324
    assert len(first.certificate_id) <= 128
    key = private_key_for(first.certificate_id)
    assert key.public_key().public_numbers() == cert.public_key().public_numbers()
    assert private_key_for("someone-else") is None
    assert private_key_for("") is None


def test_rotation_keeps_the_old_key_for_the_grace_period(db, administrator):
    old = certificate_active()
    new = certificate_rotate(actor=administrator)
    old.refresh_from_db()

    assert certificate_active() == new and not old.active
    assert private_key_for(old.certificate_id) is not None
    later = timezone.now() + ROTATION_GRACE + timedelta(minutes=1)
    assert private_key_for(old.certificate_id, now=later) is None
    assert private_key_for(new.certificate_id, now=later) is not None
    entry = AuditEntry.objects.get(action="certificate.rotate")
    assert "PRIVATE" not in f"{entry.summary} {entry.changes}"


def test_a_certificate_near_its_end_is_replaced(db):
    old = certificate_active()
    replaced = certificate_active(now=old.expires_at - timedelta(days=10))
    assert replaced != old and replaced.active


@pytest.fixture
def subscribed(graphsim, small_tenant, graph_settings, handshake, db):
    sim_account(small_tenant)
    map_agents(small_tenant.users[:3])
    made = sim_system_user(graphsim, small_tenant)
    user = system_user_add(actor=None, username=made["userPrincipalName"], password=SYSTEM_PASSWORD)
    system_user_check(user)
    result = subscriptions_sync()
    assert result.created == 1, result.summary()
    return small_tenant


def test_graph_encrypts_presence_with_our_certificate(graphsim, subscribed, handshake):
    watched = subscribed.users[0]["id"]
    graphsim.control.set_presence(subscribed.tenant_id, watched, "Busy", "InACall")

    def delivered():
        return [
            item
            for path, body in handshake.posts
            if path.endswith("/notifications")
            for item in body.get("value") or []
        ]

    [item, *_] = wait_for(delivered, what="a notification")
    encrypted = item["encryptedContent"]
    certificate = certificate_active()
    assert encrypted["encryptionCertificateId"] == certificate.certificate_id
    assert encrypted["encryptionCertificateThumbprint"] == certificate.thumbprint
    presence = decrypt(encrypted, private_key_for(encrypted["encryptionCertificateId"]))
    assert (presence["id"], presence["availability"]) == (watched, "Busy")


def test_after_rotation_subscriptions_move_to_the_new_certificate(
    graphsim, subscribed, administrator_client
):
    old = Subscription.objects.get()
    response = administrator_client.post(reverse("sync:certificate_rotate"))
    assert response.status_code == 302

    result = subscriptions_sync()

    assert result.recreated == 1
    new = certificate_active()
    [listed] = graphsim.control.subscriptions(subscribed.tenant_id)
    assert listed["encryptionCertificateId"] == new.certificate_id
    assert listed["id"] != old.graph_id
