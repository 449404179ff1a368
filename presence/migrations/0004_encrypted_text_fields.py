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
        ("presence", "0003_rule_on_mapping"),
    ]

    operations = [
        *_secret("systemuser", "password", blank=False),
        *_secret("systemuser", "token_cache", blank=True),
        *_secret("notificationcertificate", "private_key", blank=False),
        *_secret("subscription", "client_state", blank=False),
        *_secret("acdendpoint", "secret", blank=True),
    ]
