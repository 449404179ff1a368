# The secret columns become EncryptedTextField under names without "_encrypted";
# the columns keep their names and content, so no SQL runs.

from django.db import migrations

import integrations.fields


def _secret(model: str, name: str, *, blank: bool) -> list:
    column = f"{name}_encrypted"
    return [
        migrations.AlterField(
            model_name=model,
            name=column,
            field=integrations.fields.EncryptedTextField(blank=blank, db_column=column),
        ),
        migrations.RenameField(model_name=model, old_name=column, new_name=name),
    ]


class Migration(migrations.Migration):
    dependencies = [
        ("chat", "0002_conferences"),
        ("integrations", "0006_encrypted_text_fields"),
        ("presence", "0004_encrypted_text_fields"),
    ]

    operations = [
        *_secret("chatserviceaccount", "token_cache", blank=True),
        *_secret("chatsubscription", "client_state", blank=False),
    ]
