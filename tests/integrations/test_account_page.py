"""The integration account page: create, edit, validation, roles, delete."""

import threading

import pytest
from django.db import connection
from django.urls import reverse

from integrations.models import AuditEntry, IntegrationAccount
from integrations.services import AccountAlreadyExists, account_create
from integrations.signals import integration_account_deleted
from tests.support.secrets import stored_value

URL = reverse("integrations:account")
TENANT = "6f1c2a57-1b0e-4a8e-9a59-2f4f3f6b9c01"
CLIENT = "0e9e3c4d-7f8a-4b1c-9d2e-3f4a5b6c7d8e"
OBJECT = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"
SECRET = "Qx8~fake.secret-value_for-tests-0123456789"


def _valid(**overrides) -> dict:
    data = {
        "name": "Contoso Teams",
        "object_id": OBJECT,
        "tenant": TENANT,
        "client_id": CLIENT,
        "client_secret": SECRET,
        "secret_expires_at": "",
        "licensing_mode": "production",
        "msg_party_joined": "joined the session",
        "msg_party_left": "left the session",
        "msg_invitation": "You are invited to customer chat session, would you like to accept "
        "(YES/NO)?",
        "msg_positive_response": "YES",
        "msg_negative_response": "NO",
        "msg_session_ended": "Customer chat session ended",
        "msg_leave_command": "BYE",
    }
    return data | overrides


def test_admin_creates_the_account_with_the_secret_encrypted(administrator_client):
    response = administrator_client.post(URL, _valid())
    assert response.status_code == 302
    account = IntegrationAccount.objects.get()
    assert account.tenant == TENANT
    assert account.licensing_mode == "production"
    assert account.phone_types == ["business", "mobile", "fax"]
    assert SECRET not in stored_value(account, "client_secret")
    assert account.client_secret == SECRET


def test_the_secret_is_never_rendered_back(administrator_client, supervisor_client):
    administrator_client.post(URL, _valid())
    for client in (administrator_client, supervisor_client):
        page = client.get(URL).content.decode()
        assert SECRET not in page
        assert SECRET[:12] not in page
    assert "Client secret: <strong>set</strong>" in administrator_client.get(URL).content.decode()


def test_the_new_account_has_the_seven_default_chat_messages(administrator_client):
    administrator_client.post(URL, _valid(msg_party_joined="", msg_leave_command=""))
    # Empty messages are refused: every message is needed by the chat feature.
    assert not IntegrationAccount.objects.exists()
    administrator_client.post(URL, _valid())
    account = IntegrationAccount.objects.get()
    assert [text for _f, _l, text, _d in account.chat_messages()] == [
        "joined the session",
        "left the session",
        "You are invited to customer chat session, would you like to accept (YES/NO)?",
        "YES",
        "NO",
        "Customer chat session ended",
        "BYE",
    ]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("client_id", "not-a-guid", "Client ID must be a GUID"),
        ("object_id", "1234", "Object ID must be a GUID"),
        ("tenant", "contoso", "GUID or a verified domain"),
        ("tenant", "bad tenant!.com", "GUID or a verified domain"),
        ("licensing_mode", "model_a", "Select a valid choice"),
        ("msg_invitation", "x" * 256, "at most 255 characters"),
        ("name", "", "This field is required"),
        ("client_secret", "", "This field is required"),
    ],
)
def test_bad_input_gives_field_errors_and_saves_nothing(
    administrator_client, field, value, message
):
    response = administrator_client.post(URL, _valid(**{field: value}))
    assert response.status_code == 200
    assert message in " ".join(response.context["form"].errors[field])
    assert not IntegrationAccount.objects.exists()
    assert SECRET not in response.content.decode()


def test_a_domain_tenant_is_accepted(administrator_client):
    administrator_client.post(URL, _valid(tenant="Contoso.onmicrosoft.com"))
    assert IntegrationAccount.objects.get().tenant == "contoso.onmicrosoft.com"


def test_editing_keeps_the_secret_unless_replaced(administrator_client):
    administrator_client.post(URL, _valid())
    administrator_client.post(URL, _valid(name="Renamed", client_secret=""))
    account = IntegrationAccount.objects.get()
    assert account.name == "Renamed"
    assert account.client_secret == SECRET

    administrator_client.post(URL, _valid(client_secret="a-brand-new-secret-value"))
    account.refresh_from_db()
    assert account.client_secret == "a-brand-new-secret-value"
    entry = AuditEntry.objects.filter(action="account.update").first()
    assert entry.changes["client_secret"] == "(changed)"


def test_every_change_is_audited_without_the_secret(administrator_client):
    administrator_client.post(URL, _valid())
    administrator_client.post(URL, _valid(name="Renamed", client_secret="another-secret-12345"))
    entries = list(AuditEntry.objects.order_by("id"))
    assert [e.action for e in entries] == ["account.create", "account.update"]
    assert entries[1].changes["name"] == ["Contoso Teams", "Renamed"]
    everything = " ".join(str(e.changes) + e.summary for e in entries)
    assert SECRET not in everything and "another-secret-12345" not in everything


def test_supervisor_sees_the_account_read_only(administrator_client, supervisor_client):
    administrator_client.post(URL, _valid())
    page = supervisor_client.get(URL).content.decode()
    assert "Contoso Teams" in page
    assert 'name="client_secret"' not in page
    assert "Test connection" not in page
    assert "Delete account" not in page
    assert supervisor_client.post(URL, _valid(name="Hijacked")).status_code == 403
    assert IntegrationAccount.objects.get().name == "Contoso Teams"


def test_the_licensing_mode_says_what_it_means_since_metering_stopped(
    administrator_client, supervisor_client
):
    """Microsoft stopped metering the Teams APIs on 25 August 2025 (its "Payment models
    and licensing requirements for Microsoft Teams APIs" page): both roles read why the
    mode no longer bills anything, and where Microsoft says so."""
    blank = administrator_client.get(URL).content.decode()  # the create form
    administrator_client.post(URL, _valid())
    for page in (blank, administrator_client.get(URL).content.decode()):
        assert 'id="licensing-help"' in page
    page = supervisor_client.get(URL).content.decode()
    help_text = page.split('id="licensing-help"')[1].split("</div>")[0]
    assert "25 August 2025" in help_text and "no billing setup" in help_text
    assert "model=B" in help_text and "not offered" in help_text
    assert 'href="https://learn.microsoft.com/graph/teams-licenses"' in help_text


def test_a_second_account_is_refused_by_the_database(administrator):
    account_create(
        actor=administrator,
        fields={"name": "One", "tenant": TENANT, "client_id": CLIENT},
        client_secret=SECRET,
    )
    with pytest.raises(AccountAlreadyExists):
        account_create(
            actor=administrator,
            fields={"name": "Two", "tenant": TENANT, "client_id": CLIENT},
            client_secret=SECRET,
        )
    assert IntegrationAccount.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_admins_saving_at_once_create_one_account():
    from tests.factories import AdministratorFactory

    admin = AdministratorFactory()
    barrier = threading.Barrier(2)
    outcomes = []

    def create(name):
        barrier.wait()
        try:
            account_create(
                actor=admin,
                fields={"name": name, "tenant": TENANT, "client_id": CLIENT},
                client_secret=SECRET,
            )
            outcomes.append("created")
        except AccountAlreadyExists:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=create, args=(n,)) for n in ("A", "B")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["created", "refused"]
    assert IntegrationAccount.objects.count() == 1


def test_phone_types_reorder_and_hide(administrator_client):
    administrator_client.post(URL, _valid())
    url = reverse("integrations:phone_types")
    response = administrator_client.post(
        url,
        {
            "order": ["business", "mobile", "fax"],
            "shown": ["business", "mobile", "fax"],
            "move": "fax:up",
        },
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    assert IntegrationAccount.objects.get().phone_types == ["business", "fax", "mobile"]
    body = response.content.decode()
    assert body.startswith('\n    <form id="phone-types"') or '<form id="phone-types"' in body[:80]
    # The returned list shows the saved order.
    assert body.index('value="fax"') < body.index('value="mobile"')

    administrator_client.post(
        url, {"order": ["mobile", "business", "fax"], "shown": ["mobile", "fax"]}
    )
    assert IntegrationAccount.objects.get().phone_types == ["mobile", "fax"]


def test_an_empty_phone_type_list_is_refused(administrator_client):
    administrator_client.post(URL, _valid())
    response = administrator_client.post(
        reverse("integrations:phone_types"),
        {"order": ["mobile", "business", "fax"]},
        headers={"HX-Request": "true"},
    )
    assert "Show at least one phone type" in response.content.decode()
    assert IntegrationAccount.objects.get().phone_types == ["business", "mobile", "fax"]
    # What the admin arranged stays on screen.
    body = response.content.decode()
    assert body.index('value="mobile"') < body.index('value="business"')


def test_a_chat_message_resets_to_its_default(administrator_client):
    administrator_client.post(URL, _valid(msg_leave_command="QUIT"))
    response = administrator_client.post(
        reverse("integrations:message_reset", args=["msg_leave_command"]),
        headers={"HX-Request": "true"},
    )
    assert IntegrationAccount.objects.get().msg_leave_command == "BYE"
    assert 'value="BYE"' in response.content.decode()
    assert AuditEntry.objects.filter(action="account.update").first().changes == {
        "msg_leave_command": ["QUIT", "BYE"]
    }


def test_delete_asks_for_confirmation_and_disables_agents(administrator_client):
    administrator_client.post(URL, _valid())
    calls = []

    def disable_agents(sender, account, **kwargs):
        calls.append(account.name)
        return 7

    integration_account_deleted.connect(disable_agents)
    try:
        page = administrator_client.get(reverse("integrations:account_delete"))
        assert "re-enable" in page.content.decode()
        wrong = administrator_client.post(
            reverse("integrations:account_delete"), {"confirm_name": "nope"}
        )
        assert "Type the account" in wrong.content.decode()
        assert IntegrationAccount.objects.exists()
        done = administrator_client.post(
            reverse("integrations:account_delete"), {"confirm_name": "Contoso Teams"}, follow=True
        )
    finally:
        integration_account_deleted.disconnect(disable_agents)
    assert not IntegrationAccount.objects.exists()
    assert calls == ["Contoso Teams"]
    assert "Teams integration is now off for 7 agents" in done.content.decode()
    assert AuditEntry.objects.get(action="account.delete").changes == {"agents_disabled": 7}


def test_supervisor_cannot_delete_or_test(administrator_client, supervisor_client):
    administrator_client.post(URL, _valid())
    assert (
        supervisor_client.post(
            reverse("integrations:account_delete"), {"confirm_name": "Contoso Teams"}
        ).status_code
        == 403
    )
    assert supervisor_client.post(reverse("integrations:test_connection")).status_code == 403
    assert IntegrationAccount.objects.exists()
