"""Loaded with `-p` before Django starts, so settings see these variables.

Tests get their own var/ folder (SQLite test database, filesystem broker) and
their own Celery queue, so a `make run` on the same machine never steals a
test's tasks or shares its files.
"""

import os
import tempfile

os.environ.setdefault("CCBRIDGE_VAR_DIR", tempfile.mkdtemp(prefix="ccbridge-test-"))
os.environ.setdefault("CELERY_QUEUE", f"ccbridge-test-{os.getpid()}")
# Playwright's sync API keeps an event loop running in the test thread.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
os.environ["DJANGO_DEBUG"] = "true"
