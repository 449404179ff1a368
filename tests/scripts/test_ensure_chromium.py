"""scripts/ensure-chromium: what `make test` runs before any test to find a browser."""

import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "ensure-chromium"


def _executable(folder: Path, name: str, body: str) -> Path:
    path = folder / name
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)
    return path


def _run(tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["/bin/sh", str(SCRIPT), str(tmp_path / "bin" / "python")],
        capture_output=True,
        text=True,
        env={"PATH": str(tmp_path / "bin"), **env},
        timeout=30,
        check=False,
    )


@pytest.fixture
def bare_machine(tmp_path: Path) -> Path:
    """A PATH with no browser, a Python whose Playwright has no build and cannot download
    one, and an unprivileged user: nothing the script may use to find or install Chromium."""
    folder = tmp_path / "bin"
    folder.mkdir()
    _executable(folder, "python", "exit 1")
    _executable(folder, "id", "echo 1000")
    return tmp_path


def test_it_prints_a_configured_chromium_alone_on_stdout(bare_machine):
    browser = _executable(bare_machine / "bin", "my-chrome", 'echo "Chromium 1.0"')

    result = _run(bare_machine, CHROMIUM_PATH=str(browser))

    assert result.returncode == 0
    assert result.stdout == f"{browser}\n"


def test_it_finds_chromium_on_path(bare_machine):
    browser = _executable(bare_machine / "bin", "chromium", 'echo "Chromium 1.0"')

    result = _run(bare_machine)

    assert result.stdout == f"{browser}\n"


def test_it_stops_with_one_sentence_saying_what_to_install(bare_machine):
    result = _run(bare_machine)

    assert result.returncode == 1
    assert result.stdout == ""
    last_line = result.stderr.strip().splitlines()[-1]
    assert last_line.startswith("The browser tests need Chromium: install it (apt-get install")
    assert "set CHROMIUM_PATH" in last_line
