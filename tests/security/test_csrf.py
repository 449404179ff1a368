"""Every form is CSRF-protected: a signed-in POST without the token is refused and changes nothing.

Only the Graph webhook and the API-key-authenticated contact-center API skip
CSRF (they authenticate every request themselves); routes.CSRF_EXEMPT lists them.
"""

import hashlib

import pytest
from django.apps import apps
from django.test import Client
from django.urls import reverse

from tests.security.routes import (
    CSRF_EXEMPT,
    ROUTES,
    SELF_AUTHENTICATED,
    Access,
    console_routes,
    route_keys,
    world_fixture,  # noqa: F401
)

# Enough fields that most forms would validate and save if CSRF did not stop them.
FORM_DATA = {
    "username": "csrf-victim",
    "password": "a-long-enough-passphrase-for-django-42",
    "role": "Administrator",
    "is_active": "on",
    "name": "Planted by another site",
    "tenant": "contoso.example",
    "client_id": "11111111-2222-3333-4444-555555555555",
    "client_secret": "planted-secret",
    "url": "https://attacker.example/hook",
    "secret": "planted-secret",
    "confirm": "Contoso Teams",
    "enabled": "on",
    "interval_minutes": "5",
    "direction": "both",
    "scopes": "agents:read",
    "action": "disable",
    "agent_ids": "1",
}


def database_fingerprint() -> str:
    """A digest of every row of every table the console's models know."""
    digest = hashlib.sha256()
    for model in sorted(apps.get_models(), key=lambda m: m._meta.label):
        if not model._meta.managed or model._meta.proxy:
            continue
        rows = model._base_manager.order_by("pk").values_list()
        digest.update(f"{model._meta.label}:{list(rows)!r}".encode())
    return digest.hexdigest()


def test_exactly_the_listed_views_skip_csrf():
    exempt = {
        found.key for found in console_routes() if getattr(found.callback, "csrf_exempt", False)
    }
    assert exempt == set(CSRF_EXEMPT)
    assert {ROUTES[key].access for key in exempt} == set(SELF_AUTHENTICATED)


@pytest.mark.parametrize("key", [key for key in route_keys() if key not in CSRF_EXEMPT])
def test_a_post_without_the_token_is_refused_and_stores_nothing(key, world, administrator):
    client = Client(enforce_csrf_checks=True)
    if ROUTES.get(key) is None or ROUTES[key].access != Access.PUBLIC:
        client.force_login(administrator)
    url = world.url(key)
    before = database_fingerprint()

    response = client.post(url, FORM_DATA)

    assert response.status_code == 403
    assert b"CSRF" in response.content
    assert database_fingerprint() == before


def test_the_same_post_with_the_token_does_store(administrator):
    # The check above can fail: with a token, the form saves and the fingerprint moves.
    client = Client(enforce_csrf_checks=True)
    client.force_login(administrator)
    form = client.get(reverse("console:user_create"))
    token = form.context["csrf_token"]
    before = database_fingerprint()

    response = client.post(
        reverse("console:user_create"), {**FORM_DATA, "csrfmiddlewaretoken": token}
    )

    assert response.status_code == 302
    assert database_fingerprint() != before


def test_a_cross_site_login_is_refused_too(supervisor):
    from tests.factories import TEST_PASSWORD

    client = Client(enforce_csrf_checks=True)
    response = client.post(reverse("console:login"), {"username": "sam", "password": TEST_PASSWORD})
    assert response.status_code == 403
    assert client.get(reverse("console:dashboard")).status_code == 302
