"""Who may open which URL: every URL of config.urls, for anonymous, Supervisor,
Administrator, a valid API key and a wrong one.

The URLs come from the resolver (tests/security/routes.py), so a new URL is
tested by itself, and fails until ROUTES says who may open it.
"""

import json

import pytest
from django.test import Client
from django.urls import reverse

from integrations.models import JobRun
from tests.security.routes import (
    ROUTES,
    Access,
    Route,
    World,
    console_routes,
    expectation,
    route_keys,
    world_fixture,  # noqa: F401
)

LOGIN = "/login/"
PROBLEM = "application/problem+json"
WRONG_KEY = "ccb_00000000_" + "x" * 43


def _client(user=None, **headers) -> Client:
    client = Client(headers=headers) if headers else Client()
    if user is not None:
        client.force_login(user)
    return client


def _key_headers(raw: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {raw}", "X-API-Key": raw}


def _call(client: Client, method: str, url: str):
    if method == "GET":
        return client.get(url)
    return client.generic(method, url, json.dumps({}), content_type="application/json")


def _sent_to_login(response) -> bool:
    return response.status_code == 302 and response["Location"].startswith(LOGIN)


def _is_problem(response, status: int) -> bool:
    return response.status_code == status and response["Content-Type"] == PROBLEM


def test_every_url_has_an_entry_and_every_entry_a_url():
    found = set(route_keys())
    assert found - ROUTES.keys() == set(), "URLs with no entry in ROUTES"
    assert ROUTES.keys() - found == set(), "ROUTES entries for URLs that no longer exist"


def _check_page(key: str, route: Route, world: World, administrator) -> None:
    url = world.url(key)
    anonymous = Client().get(url)
    with_key = _client(**_key_headers(world.raw_api_key)).get(url)
    assert _sent_to_login(anonymous), f"anonymous {anonymous.status_code}"
    assert _sent_to_login(with_key), "an API key must never sign anyone in to the console"
    assert _sent_to_login(_client(**_key_headers(WRONG_KEY)).get(url))

    admin = _client(administrator)
    supervisor = _client(world.user)
    assert admin.get(url).status_code == route.get, "Administrator"
    if route.access in (Access.SUPERVISOR, Access.READ_ONLY, Access.SIGNED_IN):
        assert supervisor.get(url).status_code == route.get, "Supervisor"
    if route.access == Access.ADMIN:
        expected_get = 403 if route.get == 200 else route.get
        assert supervisor.get(url).status_code == expected_get, "Supervisor GET"
    if route.access in (Access.ADMIN, Access.READ_ONLY) and not route.get_only:
        assert supervisor.post(url).status_code == 403, "Supervisor POST"


def _check_api(key: str, route: Route, world: World, administrator) -> None:
    url = world.url(key)
    assert _is_problem(_call(Client(), route.method, url), 401), "no key"
    assert _is_problem(_call(_client(**_key_headers(WRONG_KEY)), route.method, url), 401)
    # A console session is not an API credential.
    assert _is_problem(_call(_client(administrator), route.method, url), 401), "session"

    response = _call(_client(**_key_headers(world.raw_api_key)), route.method, url)
    expected = route.key_status or (200 if route.method == "GET" else 422)
    assert response.status_code == expected, response.content


@pytest.mark.parametrize("key", route_keys())
def test_who_may_open_it(key, world, administrator):
    route = expectation(key)
    url = world.url(key)
    match route.access:
        case Access.PUBLIC:
            response = Client().get(url)
            assert response.status_code in (200, 503) and not _sent_to_login(response)
        case Access.WEBHOOK:
            assert Client().get(url).status_code == 405
            junk = Client().post(url, data="junk", content_type="application/json")
            assert junk.status_code == 400
            assert _client(**_key_headers(world.raw_api_key)).get(url).status_code == 405
        case Access.API:
            _check_api(key, route, world, administrator)
        case Access.SIGNED_LINK:
            altered = url[:-2] + ("A" if url[-2] != "A" else "B") + url[-1]
            response = Client().get(altered)
            assert response.status_code == 404 and not _sent_to_login(response)
        case Access.API_FALLBACK:
            assert _is_problem(Client().get(url), 404)
            assert _is_problem(_client(administrator).get(url), 404)
        case _:
            _check_page(key, route, world, administrator)


# HEAD and OPTIONS are left out: HEAD is GET without a body, and the class-based views
# (sign-in, sign-out) answer OPTIONS with their Allow list, as HTTP intends.
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def _api_methods_at(url: str, world: World) -> set[str]:
    return {
        route.method
        for key, route in ROUTES.items()
        if route.access == Access.API and world.url(key) == url
    }


@pytest.mark.parametrize("key", route_keys())
def test_methods_a_url_does_not_serve_are_refused_with_405(key, world, administrator):
    """Sent by whoever may use the URL: an anonymous caller of a page is sent to sign in
    first, whatever the method, so a stranger learns nothing about the console's pages."""
    route = expectation(key)
    if route.access == Access.API_FALLBACK:
        return  # nothing is served there: every method is a 404 problem
    url = world.url(key)
    for method in METHODS:
        if method in route.methods:
            continue
        match route.access:
            case Access.API:
                if method in _api_methods_at(url, world):
                    continue  # another operation at the same address serves it
                for headers in ({}, _key_headers(world.raw_api_key)):
                    response = _call(_client(**headers), method, url)
                    assert _is_problem(response, 405), (method, response.status_code)
                    allowed = set(response["Allow"].split(", "))
                    assert allowed == _api_methods_at(url, world)
            case Access.PUBLIC | Access.WEBHOOK | Access.SIGNED_LINK:
                response = _call(Client(), method, url)
                assert response.status_code == 405, (method, response.status_code)
            case _:
                response = _call(_client(administrator), method, url)
                assert response.status_code == 405, (method, response.status_code)
                assert _sent_to_login(_call(Client(), method, url)), method


def test_the_matrix_fails_for_a_url_nobody_described():
    with pytest.raises(pytest.fail.Exception, match="no entry"):
        expectation("console:a_page_added_tomorrow")


def test_pages_are_login_protected_unless_listed_public():
    open_routes = {
        found.key
        for found in console_routes()
        if getattr(found.callback, "login_required", True) is False
    }
    public = {key for key, route in ROUTES.items() if route.access not in _SIGNED_IN_ACCESS}
    assert open_routes == public


_SIGNED_IN_ACCESS = (Access.SIGNED_IN, Access.SUPERVISOR, Access.READ_ONLY, Access.ADMIN)


def test_forbidden_page_is_friendly(supervisor_client):
    response = supervisor_client.get(reverse("console:audit_log"))
    assert response.status_code == 403
    assert b"You can't open this page" in response.content
    assert b"Supervisor" in response.content


def test_navigation_shows_only_what_the_role_may_open(supervisor_client, administrator_client):
    supervisor_page = supervisor_client.get(reverse("console:dashboard")).content.decode()
    admin_page = administrator_client.get(reverse("console:dashboard")).content.decode()
    for label_and_url in ('href="/users/"', 'href="/audit/"'):
        assert label_and_url not in supervisor_page
        assert label_and_url in admin_page
    assert 'href="/jobs/"' in supervisor_page


def test_supervisor_cannot_start_maintenance_jobs(supervisor_client):
    response = supervisor_client.post(reverse("console:selfcheck_start"))
    assert response.status_code == 403
    assert not JobRun.objects.exists()


def test_user_without_a_role_sees_no_pages(db):
    from tests.factories import UserFactory

    client = Client()
    client.force_login(UserFactory())
    assert client.get(reverse("console:dashboard")).status_code == 403


def test_login_and_logout(db, supervisor):
    from tests.factories import TEST_PASSWORD

    client = Client()
    response = client.post(reverse("console:login"), {"username": "sam", "password": TEST_PASSWORD})
    assert response.status_code == 302
    assert client.get(reverse("console:dashboard")).status_code == 200
    client.post(reverse("console:logout"))
    assert client.get(reverse("console:dashboard")).status_code == 302


def test_wrong_password_is_refused_with_a_message(db, supervisor):
    response = Client().post(reverse("console:login"), {"username": "sam", "password": "nope"})
    assert response.status_code == 200
    assert b"Please enter a correct username and password" in response.content
