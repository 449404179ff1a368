"""A text column that holds a secret: the database stores a Fernet token, Python sees text.

Values are encrypted with integrations/crypto.py (newest key of
CCBRIDGE_ENCRYPTION_KEYS) when saved, and decrypted only when the attribute is
read, so a row whose key was lost still loads and only the read of its secret
raises SecretUnreadable. '' is stored as '' (no secret).
"""

from typing import Any

from django.db import models
from django.db.models.query_utils import DeferredAttribute

from integrations import crypto


class Ciphertext(str):
    """A value as loaded from the database, still encrypted."""

    __slots__ = ()


class _DecryptOnRead(DeferredAttribute):
    def __get__(self, instance: models.Model | None, cls: type | None = None) -> Any:
        if instance is None:
            return self
        stored = super().__get__(instance, cls)
        return crypto.decrypt(stored) if isinstance(stored, Ciphertext) else stored

    def __set__(self, instance: models.Model, value: Any) -> None:
        instance.__dict__[self.field.attname] = value


class EncryptedTextField(models.TextField):
    """Plain text in Python, a Fernet token in the column; never editable in a form."""

    descriptor_class = _DecryptOnRead

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["editable"] = False
        super().__init__(*args, **kwargs)

    def deconstruct(self) -> tuple[str, str, list, dict]:
        name, path, args, kwargs = super().deconstruct()
        kwargs.pop("editable", None)
        return name, path, args, kwargs

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> str | None:
        return Ciphertext(value) if value else value

    def pre_save(self, model_instance: models.Model, add: bool) -> Any:
        # The stored form, so saving a row never decrypts (or re-encrypts) what it did not change.
        return model_instance.__dict__.get(self.attname)

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        if value is None or isinstance(value, Ciphertext):
            return value
        return crypto.encrypt(value)

    def value_to_string(self, obj: models.Model) -> str:
        # Serialised (dumpdata) as stored: a secret never leaves in clear text.
        return str(obj.__dict__.get(self.attname) or "")

    def reencrypt(self, instance: models.Model) -> None:
        """Give the instance its value encrypted anew with the newest key (key rotation)."""
        setattr(instance, self.attname, getattr(instance, self.attname))
