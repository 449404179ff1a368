"""The key pair Graph encrypts rich presence notifications with.

The console owns one active RSA-2048 key and a self-signed certificate for it;
subscriptions hand Graph the public certificate (base64 DER) and an id, and
every notification names that id so the webhook can pick the private key.
After a rotation the previous key is still honoured for a grace period,
because Graph keeps retrying notifications it already encrypted for up to
four hours (docs/graph.md, "Change notifications").
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from datetime import datetime, timedelta
from functools import lru_cache

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from django.db import transaction
from django.utils import timezone

from integrations.audit import audit_record
from presence.sync_models import NotificationCertificate
from presence.webhook.notifications import is_plain_text

CERTIFICATE_LIFETIME = timedelta(days=365)
# Renew the certificate itself this long before it expires.
RENEW_BEFORE = timedelta(days=30)
# Graph retries a failed delivery for up to 4 h; keep the old key a little longer.
ROTATION_GRACE = timedelta(hours=5)
KEY_SIZE = 2048


def _new_certificate(now: datetime) -> NotificationCertificate:
    key = rsa.generate_private_key(public_exponent=65537, key_size=KEY_SIZE)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ccbridge presence notifications")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + CERTIFICATE_LIFETIME)
        .sign(key, hashes.SHA256())
    )
    der = cert.public_bytes(serialization.Encoding.DER)
    private_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return NotificationCertificate(
        certificate_id=f"ccbridge-{secrets.token_hex(16)}",
        certificate_pem=cert.public_bytes(serialization.Encoding.PEM).decode(),
        private_key=private_pem,
        # Graph reports thumbprints as upper-case SHA-1 hex of the DER certificate.
        thumbprint=hashlib.sha1(der).hexdigest().upper(),  # noqa: S324 - Graph's thumbprint
        active=True,
        expires_at=now + CERTIFICATE_LIFETIME,
    )


def _retire(certificates, now: datetime) -> None:
    """Deactivate ``certificates``; their keys still decrypt for the grace period."""
    for old in certificates:
        old.active = False
        old.expires_at = min(old.expires_at, now + ROTATION_GRACE)
        old.save(update_fields=["active", "expires_at"])


def certificate_active(*, now: datetime | None = None) -> NotificationCertificate:
    """The active certificate; creates the first one, and a new one when the
    active one expires within 30 days.

    Side effects: may write a NotificationCertificate (private key encrypted).
    """
    now = now or timezone.now()
    current = NotificationCertificate.objects.filter(active=True).order_by("-created_at").first()
    if current is not None and current.expires_at - now > RENEW_BEFORE:
        return current
    with transaction.atomic():
        fresh = _new_certificate(now)
        fresh.save()
        _retire(NotificationCertificate.objects.filter(active=True).exclude(pk=fresh.pk), now)
    return fresh


def certificate_rotate(*, actor, now: datetime | None = None) -> NotificationCertificate:
    """Make a new active certificate. The old key keeps decrypting for
    ``ROTATION_GRACE``; the next subscription sync moves every subscription to
    the new certificate. Audited (never the key)."""
    now = now or timezone.now()
    with transaction.atomic():
        fresh = _new_certificate(now)
        fresh.save()
        _retire(NotificationCertificate.objects.filter(active=True).exclude(pk=fresh.pk), now)
        audit_record(
            actor=actor,
            action="certificate.rotate",
            target=fresh,
            summary=f"Rotated the notification certificate (new id {fresh.certificate_id})",
            changes={"thumbprint": fresh.thumbprint},
        )
    return fresh


def encryption_certificate_b64(certificate: NotificationCertificate) -> str:
    """Graph's ``encryptionCertificate``: the public certificate as base64 DER."""
    cert = x509.load_pem_x509_certificate(certificate.certificate_pem.encode())
    return base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()


@lru_cache(maxsize=8)
def _load_private_key(private_pem: str) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(private_pem.encode(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("the stored notification key is not an RSA key")
    return key


def private_key_for(
    certificate_id: str, *, now: datetime | None = None
) -> rsa.RSAPrivateKey | None:
    """The private key of the active certificate, or of a retired one still in
    its grace period, with this id; None for any other id (reject the item)."""
    if not certificate_id or not is_plain_text(certificate_id):
        return None
    now = now or timezone.now()
    certificate = NotificationCertificate.objects.filter(certificate_id=certificate_id).first()
    if certificate is None or (not certificate.active and certificate.expires_at <= now):
        return None
    return _load_private_key(certificate.private_key)
