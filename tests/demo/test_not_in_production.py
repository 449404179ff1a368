"""Production never loads the demo: not installed unless asked for, and imported by
no production code."""

import ast
from pathlib import Path

import pytest
from django.conf import settings

from tests.console.test_security import PRODUCTION_ENV, _manage

PRODUCTION_PACKAGES = ("accounts", "integrations", "console", "presence", "graph", "config")
SHOW_APPS = "from django.conf import settings; print(' '.join(settings.INSTALLED_APPS))"


@pytest.mark.parametrize(
    ("env", "installed"),
    [
        (PRODUCTION_ENV, False),
        (PRODUCTION_ENV | {"CCBRIDGE_DEMO": "true"}, True),
        ({"DJANGO_DEBUG": "true"}, True),
        ({"DJANGO_DEBUG": "true", "CCBRIDGE_DEMO": "false"}, False),
    ],
    ids=["production", "production-asked-for", "debug", "debug-turned-off"],
)
def test_the_demo_app_is_installed_with_debug_or_when_asked_for(env, installed):
    result = _manage("shell", "-c", SHOW_APPS, env=env)
    assert result.returncode == 0, result.stderr
    assert ("demo" in result.stdout.split()) is installed


def test_production_has_no_demo_commands():
    result = _manage("seed_demo", env=PRODUCTION_ENV)
    assert result.returncode != 0
    assert "Unknown command: 'seed_demo'" in result.stderr


def _demo_imports(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names = [node.module or ""]
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            # importlib.import_module("demo…") and __import__("demo…") count too.
            called = getattr(node.func, "attr", None) or getattr(node.func, "id", None)
            names = [node.args[0].value] if called in ("import_module", "__import__") else []
        else:
            continue
        found += [f"{path}:{node.lineno} {name}" for name in names if _is_demo(name)]
    return found


def _is_demo(module: object) -> bool:
    return isinstance(module, str) and (module == "demo" or module.startswith("demo."))


def test_no_production_module_imports_the_demo():
    base = Path(settings.BASE_DIR)
    files = [path for package in PRODUCTION_PACKAGES for path in (base / package).rglob("*.py")]
    assert len(files) > 50  # the scan saw the code
    assert [hit for path in files for hit in _demo_imports(path)] == []


def test_the_scan_finds_a_demo_import(tmp_path):
    module = tmp_path / "module.py"
    module.write_text(
        "import demo.seed\nfrom demo import driver\nfrom importlib import import_module\n"
        "import_module('demo.logins')\nimport democracy\n"
    )
    assert [hit.split(" ")[1] for hit in _demo_imports(module)] == [
        "demo.seed",
        "demo",
        "demo.logins",
    ]
