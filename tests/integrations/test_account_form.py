"""The account form: its defaults, what a refused form keeps, and how dates read."""

import re
from datetime import UTC, datetime

from django.urls import reverse

from integrations.models import IntegrationAccount
from tests.integrations.test_account_page import SECRET, _valid

URL = reverse("integrations:account")


def _kept(page: str) -> str:
    match = re.search(r'name="kept_secret" value="([^"]+)"', page)
    assert match, "the refused form carries no kept secret"
    return match.group(1)


def test_the_create_form_starts_on_evaluation_and_marks_licensing_required(
    administrator_client,
):
    page = administrator_client.get(URL).content.decode()
    evaluation = re.search(r'<input[^>]*value="evaluation"[^>]*>', page).group(0)
    production = re.search(r'<input[^>]*value="production"[^>]*>', page).group(0)
    assert "checked" in evaluation and "checked" not in production
    assert re.search(r'<legend>Licensing mode <span class="req"', page)


def test_a_refused_create_keeps_the_typed_secret_without_showing_it(administrator_client):
    refused = administrator_client.post(URL, _valid(client_id="not-a-guid"))
    page = refused.content.decode()
    assert "Client ID must be a GUID" in page
    assert SECRET not in page
    assert "kept from your last try" in page

    # The admin fixes the Client ID and does not retype the secret.
    administrator_client.post(
        URL,
        _valid(
            client_id="0e9e3c4d-7f8a-4b1c-9d2e-3f4a5b6c7d8e",
            client_secret="",
            kept_secret=_kept(page),
        ),
    )

    account = IntegrationAccount.objects.get()
    assert account.client_secret == SECRET


def test_a_kept_secret_is_refused_from_another_administrator(administrator_client, administrator):
    from django.test import Client

    from tests.factories import AdministratorFactory

    kept = _kept(administrator_client.post(URL, _valid(client_id="x")).content.decode())
    other = Client()
    other.force_login(AdministratorFactory(username="grace"))

    response = other.post(URL, _valid(client_secret="", kept_secret=kept))

    assert "This field is required" in " ".join(response.context["form"].errors["client_secret"])
    assert not IntegrationAccount.objects.exists()


def test_a_typed_secret_wins_over_a_kept_one(administrator_client):
    kept = _kept(administrator_client.post(URL, _valid(client_id="x")).content.decode())
    administrator_client.post(URL, _valid(client_secret="typed-again-0123", kept_secret=kept))
    account = IntegrationAccount.objects.get()
    assert account.client_secret == "typed-again-0123"


def test_expires_at_is_shown_and_read_in_the_consoles_time_zone(
    administrator_client, supervisor_client, make_account
):
    make_account(secret_expires_at=datetime(2027, 3, 1, 14, 0, tzinfo=UTC))

    admin_page = administrator_client.get(URL).content.decode()
    assert "expires 2027-03-01 14:00 UTC" in admin_page
    assert 'name="secret_expires_at" value="2027-03-01 14:00"' in admin_page
    assert "Expires at (UTC)" in admin_page
    assert "2027-03-01 14:00 UTC" in supervisor_client.get(URL).content.decode()

    account = IntegrationAccount.objects.get()
    administrator_client.post(
        URL,
        _valid(
            tenant=account.tenant,
            client_id=account.client_id,
            client_secret="",
            secret_expires_at="2027-03-01 15:30",
        ),
    )
    account.refresh_from_db()
    assert account.secret_expires_at == datetime(2027, 3, 1, 15, 30, tzinfo=UTC)
