"""API keys for the contact-center JSON API: create, authenticate, revoke.

A key reads `ccb_<8 hex>_<43 url-safe chars>`. The first part (`ccb_<8 hex>`)
is its prefix: stored in clear, shown in the console, used to find the row.
The rest carries 256 random bits; only a SHA-256 digest of the whole key is
stored. A salted or slow hash (bcrypt, argon2) protects guessable passwords;
a 256-bit random key cannot be guessed from its digest, so the slow hash would
only add milliseconds to every API call. Plain SHA-256 (not an HMAC keyed with
SECRET_KEY) keeps keys valid when SECRET_KEY is rotated.

The ninja auth classes at the bottom turn a request's key into its ApiKey and
refuse keys without the scope an operation needs.
"""

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.http import HttpRequest
from django.utils import timezone
from ninja.errors import AuthenticationError, AuthorizationError
from ninja.security import APIKeyHeader, HttpBearer

from integrations.audit import audit_record
from integrations.models import ApiKey

KEY_MARK = "ccb"
# Longer input is not one of our keys; refuse it before hashing anything.
KEY_MAX_LENGTH = 100
# Recording every use would write a row per request; a minute is precise enough.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def _digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def _new_key() -> tuple[str, str]:
    prefix = f"{KEY_MARK}_{secrets.token_hex(4)}"
    return prefix, f"{prefix}_{secrets.token_urlsafe(32)}"


def _prefix_of(raw: str) -> str | None:
    mark, _, rest = raw.partition("_")
    short, _, secret = rest.partition("_")
    if mark != KEY_MARK or len(short) != 8 or not secret:
        return None
    return f"{KEY_MARK}_{short}"


def api_key_create(*, actor, name: str, scopes: Iterable[str]) -> tuple[ApiKey, str]:
    """Create a key and return it with its plaintext, which is never available again.

    Stores the prefix and a SHA-256 digest only, and audits the creation
    (name, prefix and scopes; never the key). Raises ValueError for an empty
    name, no scopes or an unknown scope.
    """
    name = name.strip()
    scopes = sorted(set(scopes))
    if not name:
        raise ValueError("An API key needs a name.")
    if not scopes or not set(scopes) <= set(ApiKey.Scope.values):
        raise ValueError(f"Choose scopes among {', '.join(ApiKey.Scope.values)}.")
    for _attempt in range(3):
        prefix, raw = _new_key()
        try:
            with transaction.atomic():
                key = ApiKey.objects.create(
                    name=name,
                    prefix=prefix,
                    key_hash=_digest(raw),
                    scopes=scopes,
                    created_by=actor if actor is not None and actor.pk else None,
                )
                audit_record(
                    actor=actor,
                    action="apikey.create",
                    target=key,
                    summary=f"Created API key {name} ({prefix}…) with {', '.join(scopes)}",
                    changes={"name": name, "prefix": prefix, "scopes": scopes},
                )
        except IntegrityError:
            continue  # two keys drew the same 32-bit prefix: draw again
        return key, raw
    raise RuntimeError("Could not draw a unique API key prefix.")


def api_key_authenticate(raw: str) -> ApiKey | None:
    """The active key `raw` stands for, or None when it is malformed, unknown or revoked.

    Compares digests in constant time. Records the use in `last_used_at`, at
    most once a minute per key (a conditional UPDATE, so concurrent requests
    write once).
    """
    raw = raw.strip()
    prefix = _prefix_of(raw) if len(raw) <= KEY_MAX_LENGTH else None
    if prefix is None:
        return None
    key = ApiKey.objects.filter(prefix=prefix).first()
    if key is None or not hmac.compare_digest(key.key_hash, _digest(raw)):
        return None
    if not key.is_active:
        return None
    now = timezone.now()
    if key.last_used_at is None or now - key.last_used_at >= LAST_USED_RESOLUTION:
        stale = Q(last_used_at__isnull=True) | Q(last_used_at__lte=now - LAST_USED_RESOLUTION)
        if ApiKey.objects.filter(stale, pk=key.pk).update(last_used_at=now):
            key.last_used_at = now
    return key


@transaction.atomic
def api_key_revoke(*, actor, key: ApiKey) -> bool:
    """Revoke the key for good and audit it; False when it was already revoked."""
    now = timezone.now()
    revoked = ApiKey.objects.filter(pk=key.pk, revoked_at__isnull=True).update(
        revoked_at=now, revoked_by=actor if actor is not None and actor.pk else None
    )
    if not revoked:
        return False
    key.refresh_from_db(fields=["revoked_at", "revoked_by"])
    audit_record(
        actor=actor,
        action="apikey.revoke",
        target=key,
        summary=f"Revoked API key {key.name} ({key.prefix}…)",
        changes={"name": key.name, "prefix": key.prefix},
    )
    return True


# --- The API's authentication (django-ninja) -------------------------------------


class _ScopedKey:
    """Accept an active key holding `scope`: 401 for a bad key, 403 for a missing scope."""

    scope: str

    def authenticate(self, request: HttpRequest, key: str | None) -> ApiKey | None:
        if not key:
            return None  # not sent this way; ninja tries the other header
        api_key = api_key_authenticate(key)
        if api_key is None:
            raise AuthenticationError(message="The API key is not valid or has been revoked.")
        if self.scope not in api_key.scopes:
            raise AuthorizationError(message=f"This API key lacks the {self.scope} scope.")
        return api_key


class ApiKeyBearer(_ScopedKey, HttpBearer):
    """`Authorization: Bearer <key>`."""

    def __init__(self, scope: str):
        self.scope = scope
        super().__init__()

    def __call__(self, request: HttpRequest) -> ApiKey | None:
        # Not HttpBearer's: with DEBUG on it logs a header of another scheme (Basic <key>,
        # a bare key) whole, at ERROR. Any other scheme is simply not a bearer key.
        scheme, _, token = request.headers.get(self.header, "").partition(" ")
        if scheme.lower() != self.openapi_scheme:
            return None
        return self.authenticate(request, token)


class ApiKeyHeader(_ScopedKey, APIKeyHeader):
    """`X-API-Key: <key>`."""

    param_name = "X-API-Key"

    def __init__(self, scope: str):
        self.scope = scope
        super().__init__()


def api_key_auth(scope: ApiKey.Scope) -> list:
    """The `auth=` of an API operation that needs `scope`; either header may carry the key."""
    return [ApiKeyBearer(str(scope)), ApiKeyHeader(str(scope))]
