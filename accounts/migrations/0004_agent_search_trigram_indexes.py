"""Trigram indexes for the mapping screen's search on an agent's name and email.

The search is a substring match (``icontains``: ``UPPER(column) LIKE UPPER('%…%')``),
which no B-tree serves; a pg_trgm GIN index on the same expression does, so a search
reads its matches instead of every agent. PostgreSQL only: SQLite has no such index and
keeps scanning, as it did. Raw SQL without a state change, like 0002: the indexes are
a property of how the screen reads, and Django cannot declare them for SQLite too.

The directory user's UPN, also searched, gets none on purpose: the directory sync
writes every user on each full run, and such an index made writing 50,000 users take
about 45 % longer; that part of the search scans the users instead.
"""

from django.db import migrations

INDEXES = {
    "accounts_agent_name_trgm": "name",
    "accounts_agent_email_trgm": "email",
}


def _create(apps, schema_editor) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    # pg_trgm is a trusted extension (PostgreSQL 13+): a database owner may create it.
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, column in INDEXES.items():
        schema_editor.execute(
            f"CREATE INDEX {name} ON accounts_agent USING gin (UPPER({column}::text) gin_trgm_ops)"
        )


def _drop(apps, schema_editor) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("accounts", "0003_directoryuser_unused_indexes")]

    operations = [migrations.RunPython(_create, _drop)]
