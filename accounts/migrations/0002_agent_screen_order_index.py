"""An index in the mapping screen's order (name, id), so a page of agents is read from
the index instead of sorting every agent on each request.

Raw SQL without a state change on purpose: the model's ``Meta.ordering`` already says
(name, id), and this index is a property of how the screen reads, not of the model.
The same statement works on PostgreSQL and SQLite.
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_initial")]

    operations = [
        migrations.RunSQL(
            sql="CREATE INDEX accounts_agent_name_id ON accounts_agent (name, id)",
            reverse_sql="DROP INDEX accounts_agent_name_id",
        )
    ]
