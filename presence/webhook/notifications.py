"""Graph change notifications as plain data: decrypt, verify, and check validation tokens.

No ORM and no HTTP here: the webhook (presence/webhook/views.py) looks up
subscriptions and keys and hands them in, so every check can be tested with
payloads built exactly like Graph builds them.

docs/graph.md, "Change notifications": ``dataKey`` is RSA-OAEP (SHA-1) of a 32-byte
key; HMAC-SHA256(key, base64-decoded ``data``) must equal ``dataSignature``
BEFORE anything is decrypted; then AES-256-CBC, PKCS7, IV = the key's first 16
bytes. ``validationTokens`` are JWTs from the identity platform: signed with its
published keys, ``aud`` our client id, issued to Microsoft Graph's change
notification publisher.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import jwt
from cryptography.hazmat.primitives import hashes, padding
from cryptography.hazmat.primitives.asymmetric import padding as asym_padding
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

# "Microsoft Graph Change Tracking": the app that signs notification validation tokens.
NOTIFICATION_PUBLISHER_APP_ID = "0bf30f3b-4a52-48df-9a82-234910c4a086"
LIFECYCLE_EVENTS = ("reauthorizationRequired", "subscriptionRemoved", "missed")
MAX_VALIDATION_TOKENS = 20
# Items in one POST's ``value``. Microsoft documents no maximum; the batches Graph
# delivers hold tens of items, rarely a few hundred. Refusing a genuine batch would
# lose it (Graph retries the same batch, then gives up), so the margin is wide: a
# presence item with its encrypted resource is about 1.6 KB, so a POST within the
# 1 MB body limit carries at most ~650 of them, and the item limit only binds on
# small items, which is what junk is made of.
MAX_ITEMS_PER_POST = 1000
MAX_TOKEN_LENGTH = 16_384
# Clock skew tolerated on exp/nbf, as Microsoft's own validators do.
TOKEN_LEEWAY_SECONDS = 300
# Presence values fit the model columns; anything longer is not Graph talking.
MAX_VALUE_LENGTH = 32
_VALUE_RE = re.compile(r"^[A-Za-z]{1,32}$")
_SEQUENCE_RE = re.compile(r"^[0-9]{1,40}$")
_GUID_RE = re.compile(
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
)


class Reason(StrEnum):
    """Why an item (or a whole POST) was refused; also the WebhookCounter name suffix."""

    UNKNOWN_SUBSCRIPTION = "unknown_subscription"
    BAD_CLIENT_STATE = "bad_client_state"
    BAD_SIGNATURE = "bad_signature"
    UNKNOWN_CERTIFICATE = "unknown_certificate"
    UNDECRYPTABLE = "undecryptable"
    MALFORMED = "malformed"
    BAD_VALIDATION_TOKEN = "bad_validation_token"
    BAD_JSON = "bad_json"
    TOO_LARGE = "too_large"
    TOO_MANY_ITEMS = "too_many_items"


class NotificationRejected(Exception):
    """An item (or a POST) that is not a genuine, readable Graph notification."""

    def __init__(self, reason: Reason, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else str(reason))
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class PresenceChange:
    """One user's presence as a notification carried it."""

    user_id: str
    availability: str
    activity: str
    sequence: str | None


# --- the shape of a POST --------------------------------------------------------------


def json_parse(raw: bytes | str) -> Any:
    """``raw`` as JSON; raises ValueError for anything else.

    Nesting deeper than the interpreter's recursion limit makes json raise
    RecursionError, which is turned into the ValueError any other junk gets.
    """
    try:
        return json.loads(raw)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None


def parse_body(raw: bytes, *, max_items: int = MAX_ITEMS_PER_POST) -> tuple[list[Any], list[Any]]:
    """The ``value`` items and ``validationTokens`` of a notification POST.

    Raises NotificationRejected(BAD_JSON) when the body is not a JSON object
    with a ``value`` list, or TOO_MANY_ITEMS when that list holds more than
    ``max_items`` (the POST as a whole is refused).
    """
    try:
        body = json_parse(raw)
    except (UnicodeDecodeError, ValueError) as exc:
        raise NotificationRejected(Reason.BAD_JSON, f"the body is not JSON ({exc})") from None
    if not isinstance(body, dict) or not isinstance(body.get("value"), list):
        raise NotificationRejected(Reason.BAD_JSON, "the body has no 'value' list")
    if len(body["value"]) > max_items:
        raise NotificationRejected(
            Reason.TOO_MANY_ITEMS, f"more than {max_items} items in one POST"
        )
    tokens = body.get("validationTokens")
    if tokens is None:
        tokens = []
    if not isinstance(tokens, list):
        raise NotificationRejected(Reason.BAD_JSON, "'validationTokens' is not a list")
    return body["value"], tokens


def is_plain_text(value: str) -> bool:
    """True when ``value`` can be stored and compared as UTF-8: no NUL, no lone surrogate
    (JSON may carry both as escapes; PostgreSQL refuses them)."""
    if "\x00" in value:
        return False
    try:
        value.encode()
    except UnicodeEncodeError:
        return False
    return True


def item_text(item: Mapping[str, Any], key: str, *, limit: int = 256) -> str:
    """A required short string field of an item; raises NotificationRejected(MALFORMED)."""
    value = item.get(key)
    if not isinstance(value, str) or not value or len(value) > limit or not is_plain_text(value):
        raise NotificationRejected(Reason.MALFORMED, f"'{key}' is missing or not text")
    return value


# --- decrypting rich notifications -------------------------------------------------


def _b64(value: Any, name: str) -> bytes:
    if not isinstance(value, str) or not value:
        raise NotificationRejected(Reason.MALFORMED, f"encryptedContent.{name} is missing")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise NotificationRejected(
            Reason.MALFORMED, f"encryptedContent.{name} is not base64"
        ) from None


# RSA-OAEP with SHA-1, as Graph wraps each notification's key (built once: it is
# the same for every item).
_GRAPH_OAEP = asym_padding.OAEP(
    mgf=asym_padding.MGF1(algorithm=hashes.SHA1()),  # noqa: S303 - Graph's choice
    algorithm=hashes.SHA1(),  # noqa: S303
    label=None,
)


def decrypt_content(encrypted: Any, private_key: rsa.RSAPrivateKey) -> dict[str, Any]:
    """The resource a rich notification carries, after checking its signature.

    Order matters (docs/graph.md): unwrap the key, check HMAC-SHA256 over the
    ciphertext in constant time, and only then decrypt. Raises
    NotificationRejected: MALFORMED (missing/bad fields, not a JSON object),
    UNDECRYPTABLE (key or padding wrong), BAD_SIGNATURE (HMAC mismatch).
    """
    if not isinstance(encrypted, dict):
        raise NotificationRejected(Reason.MALFORMED, "encryptedContent is not an object")
    data_key = _b64(encrypted.get("dataKey"), "dataKey")
    data = _b64(encrypted.get("data"), "data")
    signature = _b64(encrypted.get("dataSignature"), "dataSignature")
    try:
        key = private_key.decrypt(data_key, _GRAPH_OAEP)
    except ValueError:
        raise NotificationRejected(Reason.UNDECRYPTABLE, "dataKey does not open") from None
    if len(key) != 32:
        raise NotificationRejected(Reason.UNDECRYPTABLE, "the symmetric key is not 32 bytes")
    expected = hmac.digest(key, data, "sha256")
    if not hmac.compare_digest(expected, signature):
        raise NotificationRejected(Reason.BAD_SIGNATURE, "dataSignature does not match")
    if not data or len(data) % 16:
        raise NotificationRejected(Reason.UNDECRYPTABLE, "data is not whole AES blocks")
    decryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).decryptor()
    padded = decryptor.update(data) + decryptor.finalize()
    unpadder = padding.PKCS7(128).unpadder()
    try:
        plain = unpadder.update(padded) + unpadder.finalize()
    except ValueError:
        raise NotificationRejected(Reason.UNDECRYPTABLE, "bad padding") from None
    try:
        resource = json_parse(plain)
    except (UnicodeDecodeError, ValueError):
        raise NotificationRejected(Reason.MALFORMED, "decrypted data is not JSON") from None
    if not isinstance(resource, dict):
        raise NotificationRejected(Reason.MALFORMED, "decrypted data is not an object")
    return resource


def presence_from_resource(resource: Mapping[str, Any], resource_id: str | None) -> PresenceChange:
    """The presence in a decrypted resource; the id must agree with ``resourceData.id``.

    Raises NotificationRejected(MALFORMED) for missing or implausible values.
    """
    user_id = resource.get("id", resource_id)
    if not isinstance(user_id, str) or not _GUID_RE.match(user_id):
        raise NotificationRejected(Reason.MALFORMED, "the presence has no user id")
    if resource_id is not None and user_id.lower() != resource_id.lower():
        raise NotificationRejected(Reason.MALFORMED, "the presence is for another user")
    values = []
    for key in ("availability", "activity"):
        value = resource.get(key)
        if not isinstance(value, str) or not _VALUE_RE.match(value):
            raise NotificationRejected(Reason.MALFORMED, f"the presence has no {key}")
        values.append(value)
    sequence = resource.get("sequenceNumber")
    if sequence is not None and (not isinstance(sequence, str) or not _SEQUENCE_RE.match(sequence)):
        raise NotificationRejected(Reason.MALFORMED, "sequenceNumber is not a string of digits")
    return PresenceChange(user_id.lower(), values[0], values[1], sequence)


def resource_user_id(item: Mapping[str, Any]) -> str | None:
    """``resourceData.id`` of an item, lower-cased, when it is a user id."""
    data = item.get("resourceData")
    value = data.get("id") if isinstance(data, dict) else None
    return value.lower() if isinstance(value, str) and _GUID_RE.match(value) else None


# --- validation tokens ---------------------------------------------------------------


class KeysUnavailable(Exception):
    """The identity platform's signing keys could not be read (so no token can be checked)."""


class SigningKeys:
    """The identity platform's published token-signing keys, cached per URL.

    ``fetch(url)`` returns the JWKS document (``{"keys": [...]}``) or raises
    KeysUnavailable. Keys are kept for ``ttl`` seconds; a token naming an
    unknown ``kid`` triggers a refetch (key rollover), at most once every
    ``refetch_after`` seconds so forged tokens cannot hammer the platform.
    Thread-safe.
    """

    def __init__(
        self,
        fetch: Callable[[str], Mapping[str, Any]],
        *,
        ttl: float = 24 * 3600,
        refetch_after: float = 300,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.fetch = fetch
        self.ttl = ttl
        self.refetch_after = refetch_after
        self.clock = clock
        self._lock = threading.Lock()
        self._keys: dict[str, tuple[float, dict[str, Any]]] = {}

    def clear(self) -> None:
        with self._lock:
            self._keys.clear()

    def _load(self, url: str) -> dict[str, Any]:
        document = self.fetch(url)
        keys: dict[str, Any] = {}
        for jwk in document.get("keys") or []:
            if not isinstance(jwk, dict) or jwk.get("kty") != "RSA" or not jwk.get("kid"):
                continue
            try:
                keys[str(jwk["kid"])] = jwt.PyJWK.from_dict(jwk, algorithm="RS256").key
            except jwt.PyJWTError:
                continue
        if not keys:
            raise KeysUnavailable(f"no RSA signing keys at {url}")
        self._keys[url] = (self.clock(), keys)
        return keys

    def key(self, url: str, kid: str) -> Any | None:
        """The public key named ``kid`` at ``url``, or None. Raises KeysUnavailable."""
        with self._lock:
            fetched_at, keys = self._keys.get(url, (None, {}))
            now = self.clock()
            expired = fetched_at is None or now - fetched_at > self.ttl
            # An unknown kid may be a key rollover: look again, but not for every forged token.
            rolled = (
                fetched_at is not None and kid not in keys and now - fetched_at > self.refetch_after
            )
            if expired or rolled:
                keys = self._load(url)
            return keys.get(kid)


class VerifiedTokens:
    """Validation tokens that passed every check, remembered until they expire.

    Graph sends the same token with every POST for about an hour, and checking its
    signature and claims was the webhook's largest cost after decryption. Only a
    token that passed is remembered, under a hash of the token and of what it was
    checked against (keys URL, client id, tenant), so a token checked for another
    app or tenant is checked again; it is honoured until ``exp`` plus the same
    leeway jwt.decode allows, then checked again (and refused as expired). At most
    ``max_entries`` are kept. Thread-safe.
    """

    def __init__(self, *, max_entries: int = 1024, clock: Callable[[], float] = time.time) -> None:
        self.max_entries = max_entries
        self.clock = clock
        self._lock = threading.Lock()
        self._until: dict[bytes, float] = {}

    @staticmethod
    def _key(token: str, context: tuple[str, ...]) -> bytes:
        return hashlib.sha256("\n".join((*context, token)).encode(errors="surrogatepass")).digest()

    def clear(self) -> None:
        with self._lock:
            self._until.clear()

    def known(self, token: str, context: tuple[str, ...]) -> bool:
        """True when ``token`` passed for ``context`` and has not expired since."""
        key = self._key(token, context)
        with self._lock:
            until = self._until.get(key)
            if until is None:
                return False
            if self.clock() < until:
                return True
            del self._until[key]
            return False

    def add(self, token: str, context: tuple[str, ...], expires_at: float) -> None:
        now = self.clock()
        until = expires_at + TOKEN_LEEWAY_SECONDS
        if until <= now:
            return
        with self._lock:
            if len(self._until) >= self.max_entries:
                for key in [key for key, kept in self._until.items() if kept <= now]:
                    del self._until[key]
                if len(self._until) >= self.max_entries:
                    self._until.clear()
            self._until[self._key(token, context)] = until


def validation_tokens_check(
    tokens: list[Any],
    *,
    keys: SigningKeys,
    keys_url: str,
    client_id: str,
    tenant_id: str | None,
    verified: VerifiedTokens | None = None,
) -> None:
    """Every token must be genuine: signed by the identity platform, for our app
    (``aud``), issued to Graph's notification publisher, not expired, from our
    tenant (when ``tenant_id`` is a GUID). An empty list fails.

    With ``verified``, a token that passed before (for the same keys URL, client
    and tenant) and has not expired is not checked again; one that passes now is
    added.

    Raises NotificationRejected(BAD_VALIDATION_TOKEN), or KeysUnavailable when
    the signing keys cannot be read (then nothing can be decided).
    """
    if not tokens or len(tokens) > MAX_VALIDATION_TOKENS:
        raise NotificationRejected(Reason.BAD_VALIDATION_TOKEN, "no validation tokens")
    context = (keys_url, client_id, tenant_id or "")
    for token in tokens:
        if verified is not None and isinstance(token, str) and verified.known(token, context):
            continue
        expires_at = _token_check(token, keys, keys_url, client_id, tenant_id)
        if verified is not None:
            verified.add(token, context, expires_at)


def _unverified_header(token: str) -> dict[str, Any] | None:
    """The JOSE header of a compact JWT (not verified: it only names the key), or None.

    Only the short header segment is decoded: jwt.decode parses and checks the whole
    token afterwards, and parsing it twice was a third of the webhook's time per POST.
    """
    segment = token.split(".", 1)[0]
    if token.count(".") != 2 or not segment or len(segment) > 1024:
        return None
    try:
        header = json_parse(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    return header if isinstance(header, dict) else None


def _token_check(
    token: Any, keys: SigningKeys, keys_url: str, client_id: str, tenant_id: str | None
) -> float:
    """Check one token; returns its ``exp`` (seconds since the epoch)."""

    def bad(detail: str) -> NotificationRejected:
        return NotificationRejected(Reason.BAD_VALIDATION_TOKEN, detail)

    if (
        not isinstance(token, str)
        or not token
        or len(token) > MAX_TOKEN_LENGTH
        or not is_plain_text(token)
    ):
        raise bad("a validation token is not text")
    header = _unverified_header(token)
    if header is None:
        raise bad("a validation token is not a JWT")
    kid = header.get("kid")
    if header.get("alg") != "RS256" or not isinstance(kid, str):
        raise bad("a validation token is not signed with RS256")
    public_key = keys.key(keys_url, kid)
    if public_key is None:
        raise bad("a validation token is signed with an unknown key")
    try:
        claims = jwt.decode(
            token,
            public_key,
            algorithms=["RS256"],
            audience=client_id,
            options={"require": ["exp", "aud", "iss", "tid"]},
            leeway=TOKEN_LEEWAY_SECONDS,
        )
    except jwt.ExpiredSignatureError:
        raise bad("a validation token has expired") from None
    except jwt.InvalidAudienceError:
        raise bad("a validation token is for another app") from None
    except jwt.PyJWTError:
        raise bad("a validation token's signature or claims are not valid") from None
    publisher = claims.get("azp") or claims.get("appid")
    if publisher != NOTIFICATION_PUBLISHER_APP_ID:
        raise bad("a validation token was not issued to Microsoft Graph")
    tid = str(claims["tid"]).lower()
    if claims["iss"] != f"https://sts.windows.net/{tid}/":
        raise bad("a validation token has an unexpected issuer")
    if tenant_id and _GUID_RE.match(tenant_id) and tid != tenant_id.lower():
        raise bad("a validation token is for another tenant")
    return float(claims["exp"])
