"""Credentials typed on the account form but not saved, carried sealed until they are.

A refused form must keep the secret the administrator typed, and Test connection
sends the form's values to the worker; neither may hold the secret in clear text
(in the page, the job's row or the broker). A seal is encrypted with the
console's keys, names the administrator it was made for and what it is for, and
opens only for them, for a limited time.
"""

import json

from integrations import crypto

SEAL_MAX_AGE_SECONDS = 3600

FORM_SECRET = "account-form-secret"
TEST_VALUES = "account-test-values"


def unsaved_seal(*, values: dict[str, str], purpose: str, user_id: int | None) -> str:
    """Encrypt `values` for `purpose`, to be opened by `user_id` only."""
    return crypto.encrypt(json.dumps({"purpose": purpose, "user": user_id, "values": values}))


def unsaved_open(seal: str, *, purpose: str, user_id: int | None) -> dict[str, str] | None:
    """The sealed values, or None when the seal is absent, forged, too old, made for
    another purpose or another administrator."""
    if not seal:
        return None
    try:
        sealed = json.loads(crypto.decrypt(seal, max_age=SEAL_MAX_AGE_SECONDS))
    except (crypto.SecretUnreadable, ValueError):
        return None
    if sealed.get("purpose") != purpose or sealed.get("user") != user_id:
        return None
    values = sealed.get("values")
    return values if isinstance(values, dict) else None
