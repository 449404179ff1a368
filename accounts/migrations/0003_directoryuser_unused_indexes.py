"""Drop the directory-user indexes no query reads, so each sync upsert maintains fewer.

lower(mail) and lower(user_principal_name): matching by address runs in Python over
the whole directory, and searches are substring matches a B-tree cannot serve.
graph_id's uniqueness moves to a named constraint: ``unique=True`` on a CharField also
gives PostgreSQL a varchar_pattern_ops index for LIKE, and graph_id is only ever
compared whole (``=``, ``IN``, ``ON CONFLICT``), which the unique index serves.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("accounts", "0002_agent_screen_order_index")]

    operations = [
        migrations.RemoveIndex(model_name="directoryuser", name="directoryuser_mail_lower"),
        migrations.RemoveIndex(model_name="directoryuser", name="directoryuser_upn_lower"),
        migrations.AlterField(
            model_name="directoryuser",
            name="graph_id",
            field=models.CharField(max_length=64),
        ),
        migrations.AddConstraint(
            model_name="directoryuser",
            constraint=models.UniqueConstraint(
                fields=("graph_id",), name="directoryuser_graph_id_unique"
            ),
        ),
    ]
