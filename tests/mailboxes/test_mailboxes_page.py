"""The Mailboxes screen: Administrators add, change, disable and delete mailboxes (at
most 100), the separate app's secret is write-only and encrypted, Supervisors read."""

from datetime import timedelta

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from integrations.models import AuditEntry
from mailboxes.models import MAILBOX_LIMIT, Mailbox
from tests.accounts.factories import BusinessUnitFactory
from tests.mailboxes.factories import MailboxFactory

pytestmark = pytest.mark.django_db
TENANT = "3f2a1b4c-0000-4000-8000-00000000abcd"
CLIENT = "9d8c7b6a-0000-4000-8000-00000000dcba"
SECRET = "Mbx8Q~separate-app-secret-value-123456"


def _separate(**extra):
    return {
        "address": "Sales@Contoso.example",
        "display_name": "Sales",
        "access_type": "app",
        "app_source": "separate",
        "tenant": TENANT,
        "client_id": CLIENT,
        "client_secret": SECRET,
        "secret_expires_at": "",
        **extra,
    }


def test_an_administrator_adds_a_mailbox_with_a_separate_app(administrator_client):
    unit = BusinessUnitFactory(name="Sales", code="sales")
    response = administrator_client.post(
        reverse("mailboxes:list"), _separate(business_unit=unit.pk)
    )

    mailbox = Mailbox.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("mailboxes:detail", args=[mailbox.pk])
    assert mailbox.address == "sales@contoso.example"
    assert mailbox.business_unit == unit and mailbox.client_secret == SECRET
    with connection.cursor() as cursor:
        cursor.execute("SELECT client_secret_encrypted FROM mailboxes_mailbox")
        stored = cursor.fetchone()[0]
    assert SECRET not in stored
    page = administrator_client.get(response.url).content.decode()
    assert SECRET not in page and "Client secret: set" in page
    entry = AuditEntry.objects.get(action="mailbox.create")
    assert SECRET not in str(entry.changes)


def test_a_separate_app_needs_its_tenant_client_and_secret(administrator_client):
    response = administrator_client.post(
        reverse("mailboxes:list"), _separate(tenant="not a tenant", client_id="", client_secret="")
    )
    page = response.content.decode()
    assert Mailbox.objects.count() == 0
    assert "Enter the tenant as a GUID or a verified domain name" in page
    assert page.count("Required for a separate app registration.") == 2


def test_a_blank_secret_keeps_the_stored_one(administrator_client):
    mailbox = MailboxFactory(
        app_source="separate", tenant=TENANT, client_id=CLIENT, client_secret=SECRET
    )
    data = _separate(address=mailbox.address, client_secret="", display_name="Renamed")
    administrator_client.post(reverse("mailboxes:detail", args=[mailbox.pk]), data)

    mailbox.refresh_from_db()
    assert mailbox.display_name == "Renamed" and mailbox.client_secret == SECRET


def test_the_101st_mailbox_is_refused_with_a_clear_error(administrator_client):
    MailboxFactory.create_batch(MAILBOX_LIMIT)
    response = administrator_client.post(
        reverse("mailboxes:list"),
        {"address": "one-more@contoso.example", "display_name": "x", "access_type": "app",
         "app_source": "teams_account"},
    )  # fmt: skip
    assert response.status_code == 409
    assert f"ccbridge serves at most {MAILBOX_LIMIT} mailboxes" in response.content.decode()
    assert Mailbox.objects.count() == MAILBOX_LIMIT


def test_supervisors_read_but_cannot_change(supervisor_client):
    mailbox = MailboxFactory(address="help@contoso.example")
    listing = supervisor_client.get(reverse("mailboxes:list")).content.decode()
    assert "help@contoso.example" in listing and "Add a mailbox" not in listing
    detail = supervisor_client.get(reverse("mailboxes:detail", args=[mailbox.pk]))
    assert detail.status_code == 200 and "Test mailbox</button>" not in detail.content.decode()
    assert supervisor_client.post(reverse("mailboxes:list"), _separate()).status_code == 403
    assert supervisor_client.post(reverse("mailboxes:test", args=[mailbox.pk])).status_code == 403
    assert supervisor_client.post(reverse("mailboxes:delete", args=[mailbox.pk])).status_code == 403


def test_disable_and_delete_with_confirmation(administrator_client):
    mailbox = MailboxFactory(address="help@contoso.example")
    administrator_client.post(reverse("mailboxes:toggle", args=[mailbox.pk]))
    mailbox.refresh_from_db()
    assert mailbox.enabled is False

    wrong = administrator_client.post(
        reverse("mailboxes:delete", args=[mailbox.pk]), {"confirm_address": "nope"}
    )
    assert "address exactly to confirm" in wrong.content.decode()
    administrator_client.post(
        reverse("mailboxes:delete", args=[mailbox.pk]), {"confirm_address": mailbox.address}
    )
    assert not Mailbox.objects.exists()
    assert AuditEntry.objects.filter(action="mailbox.delete").exists()


def test_a_separate_app_secret_expiring_soon_shows_the_pink_bar_everywhere(administrator_client):
    MailboxFactory(
        address="help@contoso.example",
        app_source="separate",
        tenant=TENANT,
        client_id=CLIENT,
        client_secret=SECRET,
        secret_expires_at=timezone.now() + timedelta(days=10),
    )
    page = administrator_client.get(reverse("console:dashboard")).content.decode()
    assert "banner-warning" in page
    assert "The client secret of the app for the mailbox help@contoso.example expires on" in page


def test_mailboxes_are_in_the_navigation_of_both_roles(administrator_client, supervisor_client):
    for client in (administrator_client, supervisor_client):
        page = client.get(reverse("console:dashboard")).content.decode()
        assert f'href="{reverse("mailboxes:list")}"' in page
