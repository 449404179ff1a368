"""Re-encrypt every stored secret with the newest key in CCBRIDGE_ENCRYPTION_KEYS.

Every column whose name ends in `_encrypted` holds a Fernet token; this
command rewrites each with the first key, so the old key can then be removed.
"""

from django.apps import apps
from django.core.management.base import BaseCommand
from django.db import transaction

from integrations.crypto import reencrypt


class Command(BaseCommand):
    help = "Re-encrypt all stored secrets with the newest encryption key."

    def handle(self, *args, **options) -> None:
        total = 0
        with transaction.atomic():
            for model in apps.get_models():
                columns = [
                    f.name for f in model._meta.concrete_fields if f.name.endswith("_encrypted")
                ]
                if not columns:
                    continue
                for row in model.objects.select_for_update().only("pk", *columns):
                    for column in columns:
                        setattr(row, column, reencrypt(getattr(row, column)))
                    row.save(update_fields=columns)
                    total += 1
        self.stdout.write(f"re-encrypted secrets in {total} rows")
