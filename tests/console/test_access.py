"""Who may open which page: anonymous users, Supervisors and Administrators."""

import pytest
from django.test import Client
from django.urls import reverse

from integrations.models import JobRun

ALLOW, DENY = 200, 403

# (url name, kwargs factory, Supervisor, Administrator)
PAGES = [
    ("console:dashboard", None, ALLOW, ALLOW),
    ("console:job_list", None, ALLOW, ALLOW),
    ("console:job_detail", "job", ALLOW, ALLOW),
    ("console:audit_log", None, DENY, ALLOW),
    ("console:user_list", None, DENY, ALLOW),
    ("console:user_create", None, DENY, ALLOW),
    ("console:user_edit", "user", DENY, ALLOW),
]


def _url(name, kind, target_user):
    if kind == "job":
        return reverse(name, args=[JobRun.objects.create(kind="system.selfcheck").pk])
    if kind == "user":
        return reverse(name, args=[target_user.pk])
    return reverse(name)


@pytest.mark.parametrize(("name", "kind", "supervisor_sees", "admin_sees"), PAGES)
def test_anonymous_is_sent_to_login(db, administrator, name, kind, supervisor_sees, admin_sees):
    url = _url(name, kind, administrator)
    response = Client().get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("console:login"))


@pytest.mark.parametrize(("name", "kind", "supervisor_sees", "admin_sees"), PAGES)
def test_supervisor_sees_what_the_role_allows(
    supervisor_client, administrator, name, kind, supervisor_sees, admin_sees
):
    response = supervisor_client.get(_url(name, kind, administrator))
    assert response.status_code == supervisor_sees


@pytest.mark.parametrize(("name", "kind", "supervisor_sees", "admin_sees"), PAGES)
def test_administrator_sees_everything(
    administrator_client, supervisor, name, kind, supervisor_sees, admin_sees
):
    response = administrator_client.get(_url(name, kind, supervisor))
    assert response.status_code == admin_sees


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
