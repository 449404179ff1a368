"""Strict Content Security Policy, no inline script, and production settings."""

import os
import subprocess
import sys
from html.parser import HTMLParser

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from integrations.models import JobRun

PAGES = [
    ("console:dashboard", None),
    ("console:job_list", None),
    ("console:job_detail", "job"),
    ("console:audit_log", None),
    ("console:user_list", None),
    ("console:user_create", None),
    ("console:user_edit", "user"),
]


class InlineScriptFinder(HTMLParser):
    """Collects inline scripts and inline event handlers."""

    def __init__(self):
        super().__init__()
        self.problems: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        for name in attributes:
            if name.startswith("on") or name.startswith("hx-on"):
                self.problems.append(f"<{tag} {name}=…>")
        if any(
            (value or "").strip().lower().startswith("javascript:") for value in attributes.values()
        ):
            self.problems.append(f"<{tag}> with a javascript: URL")
        if tag == "script":
            self._in_script = "src" not in attributes
            if attributes.get("src") and "nonce" not in attributes:
                self.problems.append(f"<script src={attributes['src']}> without nonce")

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False

    def handle_data(self, data):
        if self._in_script and data.strip():
            self.problems.append(f"inline script: {data.strip()[:60]}")


def _url(name, kind, administrator):
    if kind == "job":
        return reverse(name, args=[JobRun.objects.create(kind="x").pk])
    if kind == "user":
        return reverse(name, args=[administrator.pk])
    return reverse(name)


def _policy(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    directives = {}
    for part in header.split(";"):
        name, *values = part.split()
        directives[name] = values
    return directives


def test_csp_is_strict(administrator_client):
    response = administrator_client.get(reverse("console:dashboard"))
    policy = _policy(response)
    assert policy["default-src"] == ["'self'"]
    assert "'unsafe-inline'" not in policy["script-src"]
    assert "'unsafe-eval'" not in policy["script-src"]
    assert any(value.startswith("'nonce-") for value in policy["script-src"])
    assert policy["style-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]


def test_scripts_carry_the_header_nonce(administrator_client):
    response = administrator_client.get(reverse("console:dashboard"))
    nonce = next(v for v in _policy(response)["script-src"] if v.startswith("'nonce-"))[7:-1]
    body = response.content.decode()
    assert body.count("<script") == body.count(f'nonce="{nonce}"') > 0


@pytest.mark.parametrize(("name", "kind"), PAGES)
def test_no_page_has_inline_script(administrator_client, administrator, name, kind):
    response = administrator_client.get(_url(name, kind, administrator))
    assert response.status_code == 200
    finder = InlineScriptFinder()
    finder.feed(response.content.decode())
    assert finder.problems == []


def test_login_page_has_no_inline_script(db):
    response = Client().get(reverse("console:login"))
    finder = InlineScriptFinder()
    finder.feed(response.content.decode())
    assert finder.problems == []
    assert "Content-Security-Policy" in response


def test_security_headers(administrator_client):
    response = administrator_client.get(reverse("console:dashboard"))
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"


PRODUCTION_ENV = {
    "DJANGO_DEBUG": "false",
    "SECRET_KEY": "a-long-random-production-secret-key-with-enough-entropy-1234567890",
    "ALLOWED_HOSTS": "ccbridge.example.com",
    "CCBRIDGE_ENCRYPTION_KEYS": "x1Ws0Zb6Zq1pQ0Ynq3yQm2Yk2x0XkD0C6E4m5oM8a4E=",
}


def _manage(*args, env):
    # As a production host would run it: none of the test run's own variables.
    dropped = {"SECRET_KEY", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    full_env = {k: v for k, v in os.environ.items() if k not in dropped} | env
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=settings.BASE_DIR,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_production_settings_pass_check_deploy():
    result = _manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION_ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_without_secret_key_stops_with_a_clear_message():
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != "SECRET_KEY"}
    result = _manage("check", env=env)
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


def test_production_without_encryption_keys_stops_with_a_clear_message():
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != "CCBRIDGE_ENCRYPTION_KEYS"}
    result = _manage("check", env=env)
    assert result.returncode != 0
    assert "CCBRIDGE_ENCRYPTION_KEYS is not set" in result.stderr
