"""Read a secret column as the database holds it, past EncryptedTextField's decryption."""

from django.db import connection, models


def stored_value(instance: models.Model, name: str) -> str:
    """The raw column behind ``instance.<name>``: ciphertext for an encrypted field."""
    field = instance._meta.get_field(name)
    table = connection.ops.quote_name(instance._meta.db_table)
    column = connection.ops.quote_name(field.column)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {table} WHERE id = %s", [instance.pk])  # noqa: S608 - names from the model
        return cursor.fetchone()[0]
