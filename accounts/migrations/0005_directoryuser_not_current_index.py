"""A partial index of the directory users no longer current (disabled or removed).

The mapping screen's mapped, disabled and removed filters read these few users through
it instead of every user. Partial, so the directory sync maintains an entry only for
them: the enabled users, nearly all of them, never enter it.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("accounts", "0004_agent_search_trigram_indexes")]

    operations = [
        migrations.AddIndex(
            model_name="directoryuser",
            index=models.Index(
                condition=models.Q(account_enabled=False) | ~models.Q(removed_reason=""),
                fields=["id"],
                name="directoryuser_not_current",
            ),
        ),
    ]
