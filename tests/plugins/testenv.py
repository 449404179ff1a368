"""Loaded with `-p` before Django starts, so settings see these variables.

Tests get their own var/ folder (SQLite test database, filesystem broker) and
their own Celery queue, so a `make run` on the same machine never steals a
test's tasks or shares its files. Under pytest-xdist each worker process takes a
folder and a queue of its own beneath the run's (pytest-django gives it its own
test database), so the workers' Celery workers never take each other's tasks.
"""

import os
import tempfile
from pathlib import Path

os.environ.setdefault("CCBRIDGE_VAR_DIR", tempfile.mkdtemp(prefix="ccbridge-test-"))
os.environ.setdefault("CELERY_QUEUE", f"ccbridge-test-{os.getpid()}")

# Set by xdist in each worker before it loads plugins; the worker inherits the
# variables above from the controller, which set them first.
_xdist_worker = os.environ.get("PYTEST_XDIST_WORKER")
if _xdist_worker:
    _worker_var_dir = Path(os.environ["CCBRIDGE_VAR_DIR"]) / _xdist_worker
    _worker_var_dir.mkdir(parents=True, exist_ok=True)
    os.environ["CCBRIDGE_VAR_DIR"] = str(_worker_var_dir)
    os.environ["CELERY_QUEUE"] = f"{os.environ['CELERY_QUEUE']}-{_xdist_worker}"

# Playwright's sync API keeps an event loop running in the test thread.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
os.environ["DJANGO_DEBUG"] = "true"
