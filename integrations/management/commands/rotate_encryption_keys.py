"""Re-encrypt every stored secret with the newest key in CCBRIDGE_ENCRYPTION_KEYS.

Every EncryptedTextField column holds a Fernet token; this command rewrites
each with the first key, so the old key can then be removed.
"""

from django.apps import apps
from django.core.management.base import BaseCommand
from django.db import transaction

from integrations.fields import EncryptedTextField


class Command(BaseCommand):
    help = "Re-encrypt all stored secrets with the newest encryption key."

    def handle(self, *args, **options) -> None:
        total = 0
        with transaction.atomic():
            for model in apps.get_models():
                fields = [
                    f for f in model._meta.concrete_fields if isinstance(f, EncryptedTextField)
                ]
                if not fields:
                    continue
                names = [f.attname for f in fields]
                for row in model.objects.select_for_update().only("pk", *names):
                    for field in fields:
                        field.reencrypt(row)
                    row.save(update_fields=names)
                    total += 1
        self.stdout.write(f"re-encrypted secrets in {total} rows")
