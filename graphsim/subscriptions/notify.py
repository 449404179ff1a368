"""Outbound HTTP to subscribers: the validation handshake, encrypted resource
data, and a background delivery thread with batching and bounded retries.

Deliveries never happen inside the request that caused a change: changes are
queued and a daemon thread posts them, several items per POST when they were
queued together, retrying failures with exponential backoff.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
import logging
import os
import secrets
import ssl
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, padding
from cryptography.hazmat.primitives.asymmetric import padding as asym_padding
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.serialization import Encoding

from graphsim.core.errors import GraphError, iso7, utcnow

log = logging.getLogger("graphsim.notify")

VALIDATION_TIMEOUT = 10.0
DELIVERY_TIMEOUT = 3.0
MAX_ATTEMPTS = 6
BATCH_WINDOW = 0.05


def is_loopback(url: str) -> bool:
    """True when the URL's host is 127.0.0.0/8, ::1 or localhost."""
    host = (urlsplit(url).hostname or "").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _ssl_context(url: str) -> ssl.SSLContext | None:
    if not url.lower().startswith("https"):
        return None
    if is_loopback(url):
        # Local consoles use self-signed certificates; a loopback peer is trusted.
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        return ctx
    return ssl.create_default_context(cafile=os.environ.get("GRAPHSIM_NOTIFY_CA") or None)


def post(url: str, body: bytes, content_type: str, timeout: float) -> tuple[int, str, str]:
    """POST ``body`` to ``url``; returns (status, content type, text).

    Raises OSError (incl. timeouts) when no HTTP answer arrives.
    """
    request = urllib.request.Request(  # noqa: S310 - URLs are checked http(s) at subscribe time
        url, data=body, method="POST", headers={"Content-Type": content_type}
    )
    try:
        handlers: list[urllib.request.BaseHandler] = [urllib.request.ProxyHandler({})]
        context = _ssl_context(url)
        if context is not None:
            handlers.append(urllib.request.HTTPSHandler(context=context))
        opener = urllib.request.build_opener(*handlers)
        with opener.open(request, timeout=timeout) as response:
            text = response.read().decode("utf-8", "replace")
            return response.status, response.headers.get("Content-Type", ""), text
    except urllib.error.HTTPError as err:
        return err.code, err.headers.get("Content-Type", ""), err.read().decode("utf-8", "replace")


def validate_endpoint(url: str) -> None:
    """The subscription validation handshake for ``url``.

    POSTs ``?validationToken=…``; the endpoint must answer 200, text/plain, the
    token itself, within 10 s. Raises GraphError 400 ``ValidationError`` if not.
    """
    token = (
        "Validation: Testing client application reachability for subscription "
        f"Request-Id: {uuid.uuid4()}"
    )
    sep = "&" if "?" in url else "?"
    target = f"{url}{sep}validationToken={quote(token, safe='')}"
    try:
        status, content_type, text = post(
            target, b"", "text/plain; charset=utf-8", VALIDATION_TIMEOUT
        )
    except TimeoutError:
        raise GraphError(
            400, "ValidationError", "Subscription validation request timed out."
        ) from None
    except OSError:
        status, content_type, text = 0, "", ""
    if status != 200:
        raise GraphError(
            400,
            "ValidationError",
            "Subscription validation request failed. Notification endpoint must respond with "
            "200 OK to validation request.",
        )
    if text != token or not content_type.lower().startswith("text/plain"):
        raise GraphError(
            400,
            "ValidationError",
            "Subscription validation request failed. Response must exactly match validationToken "
            "query parameter.",
        )


def load_encryption_certificate(value: Any) -> tuple[rsa.RSAPublicKey, str]:
    """Parse ``encryptionCertificate`` (base64 DER or PEM): (public key, SHA-1 thumbprint).

    Raises GraphError 400 when it is not an X.509 certificate with a 2048 to 4096 bit RSA key.
    """
    error = GraphError(
        400, "InvalidRequest", "The encryptionCertificate is not a valid certificate."
    )
    if not isinstance(value, str) or not value.strip():
        raise error
    try:
        text = value.strip()
        if text.startswith("-----BEGIN"):
            cert = x509.load_pem_x509_certificate(text.encode())
        else:
            cert = x509.load_der_x509_certificate(base64.b64decode(text))
    except ValueError:
        raise error from None
    key = cert.public_key()
    if not isinstance(key, rsa.RSAPublicKey) or not 2048 <= key.key_size <= 4096:
        raise error
    thumbprint = hashlib.sha1(cert.public_bytes(Encoding.DER)).hexdigest().upper()  # noqa: S324
    return key, thumbprint


def encrypt_content(
    public_key: rsa.RSAPublicKey, certificate_id: str, thumbprint: str, resource: dict[str, Any]
) -> dict[str, str]:
    """Encrypt a resource the way Graph does for rich notifications.

    A random 32-byte key; ``dataKey`` = RSA-OAEP(SHA-1) of it; ``data`` =
    AES-256-CBC/PKCS7 with IV = first 16 key bytes; ``dataSignature`` =
    HMAC-SHA256(key, ciphertext). All base64.
    """
    key = secrets.token_bytes(32)
    padder = padding.PKCS7(128).padder()
    plain = padder.update(json.dumps(resource).encode()) + padder.finalize()
    encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    cipher = encryptor.update(plain) + encryptor.finalize()
    data_key = public_key.encrypt(
        key,
        asym_padding.OAEP(
            mgf=asym_padding.MGF1(algorithm=hashes.SHA1()),  # noqa: S303 - Graph's choice
            algorithm=hashes.SHA1(),  # noqa: S303
            label=None,
        ),
    )
    signature = hmac.new(key, cipher, hashlib.sha256).digest()
    return {
        "data": base64.b64encode(cipher).decode(),
        "dataSignature": base64.b64encode(signature).decode(),
        "dataKey": base64.b64encode(data_key).decode(),
        "encryptionCertificateId": certificate_id,
        "encryptionCertificateThumbprint": thumbprint,
    }


@dataclass
class Delivery:
    """One queued notification item for one URL."""

    url: str
    item: dict[str, Any]
    tenant_id: str
    client_id: str
    rich: bool
    due: float = 0.0
    attempts: int = 0


@dataclass
class DeliveryLog:
    """What was posted (for the control API): newest last, bounded."""

    entries: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=5000))


class Notifier:
    """The background delivery thread. ``enqueue`` is cheap and thread-safe."""

    def __init__(self, token_for: Callable[[str, str], str]) -> None:
        self._token_for = token_for
        self._queue: list[Delivery] = []
        self._cond = threading.Condition()
        self._stop = False
        self.log = DeliveryLog()
        # Change notifications still to lose, by subscription id (control API).
        self._losing: dict[str, int] = {}
        self._thread = threading.Thread(target=self._run, name="graphsim-notify", daemon=True)

    def start(self) -> None:
        """Start the delivery thread."""
        self._thread.start()

    def stop(self) -> None:
        """Ask the delivery thread to finish."""
        with self._cond:
            self._stop = True
            self._cond.notify_all()

    def lose(self, subscription_id: str, count: int) -> int:
        """Lose the next ``count`` change notifications of a subscription (never its
        lifecycle events), as Graph does when it cannot deliver and gives up; the
        receiver learns of it only from a ``missed`` event. Returns how many are still
        to be lost."""
        with self._cond:
            left = self._losing.get(subscription_id.lower(), 0) + max(0, count)
            self._losing[subscription_id.lower()] = left
            return left

    def _lost(self, delivery: Delivery) -> bool:
        if "lifecycleEvent" in delivery.item:
            return False
        sub_id = str(delivery.item.get("subscriptionId") or "").lower()
        if self._losing.get(sub_id, 0) <= 0:
            return False
        self._losing[sub_id] -= 1
        self.log.entries.append(
            {"time": iso7(utcnow()), "url": delivery.url, "status": 0, "items": 1,
             "error": "lost (control API)", "duration_ms": 0, "attempt": 0}
        )  # fmt: skip
        return True

    def enqueue(self, delivery: Delivery) -> None:
        """Queue one item; it is posted shortly, with others for the same URL."""
        delivery.due = time.monotonic() + BATCH_WINDOW
        with self._cond:
            if self._lost(delivery):
                return
            self._queue.append(delivery)
            self._cond.notify_all()

    def _take_due(self) -> list[Delivery]:
        with self._cond:
            while not self._stop:
                now = time.monotonic()
                due = [d for d in self._queue if d.due <= now]
                if due:
                    self._queue = [d for d in self._queue if d.due > now]
                    return due
                wait = min((d.due for d in self._queue), default=now + 1.0) - now
                self._cond.wait(timeout=max(0.01, wait))
            return []

    def _run(self) -> None:
        while not self._stop:
            due = self._take_due()
            groups: dict[str, list[Delivery]] = {}
            for delivery in due:
                groups.setdefault(delivery.url, []).append(delivery)
            for url, batch in groups.items():
                self._send(url, batch)

    def _send(self, url: str, batch: list[Delivery]) -> None:
        body: dict[str, Any] = {"value": [d.item for d in batch]}
        if any(d.rich for d in batch):
            pairs = dict.fromkeys((d.tenant_id, d.client_id) for d in batch if d.rich)
            body["validationTokens"] = [self._token_for(t, c) for t, c in pairs]
        started = time.monotonic()
        try:
            status = post(url, json.dumps(body).encode(), "application/json", DELIVERY_TIMEOUT)[0]
        except OSError as exc:
            status, error = 0, str(exc)
        else:
            error = ""
        ok = 200 <= status < 300
        self.log.entries.append(
            {
                "time": iso7(utcnow()),
                "url": url,
                "status": status,
                "items": len(batch),
                "error": error,
                "duration_ms": round((time.monotonic() - started) * 1000),
                "attempt": max(d.attempts for d in batch) + 1,
            }
        )
        if ok:
            return
        for delivery in batch:
            delivery.attempts += 1
            if delivery.attempts >= MAX_ATTEMPTS:
                log.warning(
                    "dropping notification for %s after %d attempts", url, delivery.attempts
                )
                continue
            backoff = min(60.0, 0.5 * 2 ** (delivery.attempts - 1))
            with self._cond:
                delivery.due = time.monotonic() + backoff
                self._queue.append(delivery)
                self._cond.notify_all()
