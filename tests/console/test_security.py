"""Strict Content Security Policy on every page, security headers, and production settings.

The pages come from the URL resolver (tests/security/routes.py): every page
an Administrator or a Supervisor can open, plus the pages anyone can see
(sign-in, lockout, 403, 404).
"""

import json
import os
import subprocess
import sys
from html.parser import HTMLParser

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from tests.security.routes import (
    ROUTES,
    Access,
    route_keys,
    world_fixture,  # noqa: F401
)

HTML_PAGES = [
    key
    for key in route_keys()
    if key in ROUTES
    and ROUTES[key].get == 200
    and ROUTES[key].access not in (Access.API, Access.WEBHOOK, Access.PUBLIC, Access.SIGNED_LINK)
    # JSON downloads, not pages.
    and key not in ("api:openapi-json", "integrations:setup_manifest")
]


class InlineScriptFinder(HTMLParser):
    """Collects inline scripts, inline event handlers, style attributes and inline styles.

    The policy allows scripts only from the console with the page's nonce and
    styles only from the console's stylesheet, so any of these would be
    blocked by the browser (and is a place where injected markup could run).
    """

    def __init__(self, nonce: str | None = None):
        super().__init__()
        self.problems: list[str] = []
        self._in_script = False
        self.nonce = nonce

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        for name in attributes:
            if name.startswith("on") or name.startswith("hx-on"):
                self.problems.append(f"<{tag} {name}=…>")
            if name == "style":
                self.problems.append(f"<{tag} style=…>")
        if tag == "style":
            self.problems.append("<style> element")
        # A JSON data block (json_script, Swagger UI's settings) is never executed.
        data_block = tag == "script" and attributes.get("type") == "application/json"
        if (
            self.nonce is not None
            and tag == "script"
            and not data_block
            and attributes.get("nonce") != self.nonce
        ):
            self.problems.append(f"<script> with nonce {attributes.get('nonce')!r}")
        if any(
            (value or "").strip().lower().startswith("javascript:") for value in attributes.values()
        ):
            self.problems.append(f"<{tag}> with a javascript: URL")
        if tag == "script":
            # A JSON data block (json_script, Swagger UI's settings) is never executed.
            self._in_script = (
                "src" not in attributes and attributes.get("type") != "application/json"
            )
            if attributes.get("src") and "nonce" not in attributes:
                self.problems.append(f"<script src={attributes['src']}> without nonce")

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False

    def handle_data(self, data):
        if self._in_script and data.strip():
            self.problems.append(f"inline script: {data.strip()[:60]}")


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


def _nonce(response) -> str:
    """The header's nonce; "" when the page (a partial) used none, so no script may run."""
    nonces = [v for v in _policy(response)["script-src"] if v.startswith("'nonce-")]
    return nonces[0][7:-1] if nonces else ""


def assert_strict_page(response) -> None:
    """A strict policy, the security headers, and markup that needs nothing the policy forbids."""
    policy = _policy(response)
    assert policy["default-src"] == ["'self'"]
    assert policy["style-src"] == ["'self'"]
    assert "'unsafe-inline'" not in policy["script-src"]
    assert "'unsafe-eval'" not in policy["script-src"]
    assert policy["object-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["form-action"] == ["'self'"]
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"
    finder = InlineScriptFinder(nonce=_nonce(response))
    finder.feed(response.content.decode())
    assert finder.problems == []


def test_the_page_list_is_not_empty():
    assert len(HTML_PAGES) > 30


@pytest.mark.parametrize("key", HTML_PAGES)
def test_every_page_is_strict(key, world, administrator):
    client = Client()
    client.force_login(administrator)
    response = client.get(world.url(key))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert_strict_page(response)


@pytest.mark.parametrize("key", [k for k in HTML_PAGES if ROUTES[k].access != Access.ADMIN])
def test_every_page_is_strict_for_a_supervisor_too(key, world):
    client = Client()
    client.force_login(world.user)
    assert_strict_page(client.get(world.url(key)))


def test_the_finder_catches_what_the_policy_forbids():
    finder = InlineScriptFinder(nonce="abc")
    finder.feed(
        '<script nonce="abc" src="/a.js"></script><script>alert(1)</script>'
        '<p style="color:red" onclick="x()">hi</p><style>p{}</style><script nonce="zzz"></script>'
    )
    assert len(finder.problems) == 6


def test_error_and_lockout_pages_are_strict(supervisor, settings):
    from tests.factories import TEST_PASSWORD

    settings.AXES_FAILURE_LIMIT = 2
    anonymous = Client()
    for _attempt in range(2):
        anonymous.post(reverse("console:login"), {"username": "sam", "password": "wrong"})
    lockout = anonymous.post(
        reverse("console:login"), {"username": "sam", "password": TEST_PASSWORD}
    )
    assert lockout.status_code == 429
    assert_strict_page(lockout)

    signed_in = Client()
    signed_in.force_login(supervisor)
    forbidden = signed_in.get(reverse("console:audit_log"))
    assert forbidden.status_code == 403
    assert_strict_page(forbidden)
    missing = signed_in.get("/no-such-page/")
    assert missing.status_code == 404
    assert_strict_page(missing)
    assert_strict_page(Client().get(reverse("console:login")))


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
    "GRAPH_AUTHORITY_HOST": "https://login.microsoftonline.com",
    "GRAPH_BASE_URL": "https://graph.microsoft.com/v1.0",
    # Production sits behind the TLS proxy that sets X-Forwarded-Proto.
    "CLIENT_IP_PROXY_COUNT": "1",
}


def _manage(*args, env):
    # As a production host would run it: none of the test run's own variables.
    dropped = {"SECRET_KEY", "DJANGO_ALLOW_ASYNC_UNSAFE", "DJANGO_DEBUG", "GRAPH_CA_BUNDLE"}
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


@pytest.mark.parametrize(
    "variable", ["SECRET_KEY", "CCBRIDGE_ENCRYPTION_KEYS", "GRAPH_AUTHORITY_HOST", "GRAPH_BASE_URL"]
)
def test_production_without_a_required_variable_stops_naming_it(variable):
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != variable}
    result = _manage("check", env=env)
    assert result.returncode != 0
    assert f"DJANGO_DEBUG is off (production) and {variable} is not set." in result.stderr


def test_debug_is_off_unless_asked_for():
    """Nothing set: production mode, which names every development default it refuses."""
    result = _manage("check", env={})
    assert result.returncode != 0
    assert (
        "DJANGO_DEBUG is off (production) and SECRET_KEY, CCBRIDGE_ENCRYPTION_KEYS, "
        "GRAPH_AUTHORITY_HOST, GRAPH_BASE_URL are not set." in result.stderr
    )


def test_production_never_trusts_the_simulators_certificate_by_default():
    result = _manage(
        "shell",
        "-c",
        "from django.conf import settings; print(repr(settings.GRAPH_CA_BUNDLE))",
        env=PRODUCTION_ENV,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "''"


# What a production process answers, asked in a process started with production
# settings: the sign-in page over plain HTTP, then over HTTPS behind the proxy.
PRODUCTION_PROBE = """
import json
from django.conf import settings
from django.core.management import call_command
from django.test import Client

call_command("collectstatic", "--noinput", verbosity=0)
client = Client(HTTP_HOST="ccbridge.example.com")
plain = client.get("/login/")
secure = client.get("/login/", HTTP_X_FORWARDED_PROTO="https")
csrf = secure.cookies["csrftoken"]
print(json.dumps({
    "plain_status": plain.status_code,
    "plain_location": plain.get("Location", ""),
    "secure_status": secure.status_code,
    "hsts": secure.get("Strict-Transport-Security", ""),
    "csrf_cookie": {"secure": csrf["secure"], "samesite": csrf["samesite"]},
    "settings": {
        name: getattr(settings, name)
        for name in (
            "DEBUG", "SESSION_COOKIE_SECURE", "SESSION_COOKIE_HTTPONLY", "SESSION_COOKIE_SAMESITE",
            "CSRF_COOKIE_SECURE", "CSRF_COOKIE_SAMESITE", "SECURE_SSL_REDIRECT",
            "SECURE_HSTS_SECONDS", "SECURE_HSTS_INCLUDE_SUBDOMAINS", "SECURE_HSTS_PRELOAD",
            "SECURE_REDIRECT_EXEMPT", "SESSION_COOKIE_AGE", "SECURE_CONTENT_TYPE_NOSNIFF",
        )
    },
}))
"""


def test_production_cookies_and_https_policy():
    result = _manage("shell", "-c", PRODUCTION_PROBE, env=PRODUCTION_ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])

    assert seen["settings"] == {
        "DEBUG": False,
        "SESSION_COOKIE_SECURE": True,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "CSRF_COOKIE_SECURE": True,
        "CSRF_COOKIE_SAMESITE": "Lax",
        "SECURE_SSL_REDIRECT": True,
        "SECURE_HSTS_SECONDS": 31536000,
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": True,
        "SECURE_HSTS_PRELOAD": True,
        "SECURE_REDIRECT_EXEMPT": ["^healthz$"],
        "SESSION_COOKIE_AGE": 28800,
        "SECURE_CONTENT_TYPE_NOSNIFF": True,
    }
    assert seen["plain_status"] == 301
    assert seen["plain_location"] == "https://ccbridge.example.com/login/"
    assert seen["secure_status"] == 200
    assert seen["hsts"] == "max-age=31536000; includeSubDomains; preload"
    assert seen["csrf_cookie"] == {"secure": True, "samesite": "Lax"}
