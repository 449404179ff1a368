"""The agents import page: upload a CSV, preview it, then import the upload kept on the
server. The import step names the upload; the file never travels back through the browser."""

from datetime import timedelta
from html.parser import HTMLParser

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.csvimport import MAX_ROWS
from accounts.models import Agent, AgentImportUpload
from integrations.models import AuditEntry
from tests.accounts.factories import AgentFactory, BusinessUnitFactory
from tests.factories import AdministratorFactory

IMPORT = reverse("accounts:agents_import")
HEADER = "external_id,name,email,business_unit,teams,teams_enabled"


@pytest.fixture
def units(db):
    return BusinessUnitFactory(code="sales", name="Sales"), BusinessUnitFactory(
        code="care", name="Customer Care"
    )


def _csv(*lines: str) -> bytes:
    return "\n".join([HEADER, *lines]).encode()


class _FormReader(HTMLParser):
    """Each form of a page: the fields a browser would submit, and its buttons' text."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict] = []
        self._in_button = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.forms.append({"fields": {}, "buttons": "", "enctype": attrs.get("enctype")})
        elif tag == "input" and self.forms and attrs.get("name"):
            self.forms[-1]["fields"][attrs["name"]] = attrs.get("value") or ""
        elif tag == "button" and self.forms:
            self._in_button = True

    def handle_endtag(self, tag):
        if tag == "button":
            self._in_button = False

    def handle_data(self, data):
        if self._in_button:
            self.forms[-1]["buttons"] += data


def _import_form(response) -> dict[str, str]:
    """What the browser posts when the person presses the preview's Import button."""
    reader = _FormReader()
    reader.feed(response.content.decode())
    [form] = [form for form in reader.forms if form["buttons"].strip().startswith("Import")]
    assert form["enctype"] is None  # a plain form: it cannot carry a file
    return form["fields"]


def _upload(client: Client, data: bytes, encoding: str | None = None, name="agents.csv"):
    fields = {"file": SimpleUploadedFile(name, data, content_type="text/csv")}
    if encoding is not None:
        fields["encoding"] = encoding
    return client.post(IMPORT, fields)


def _page(response) -> str:
    return response.content.decode()


def test_uploading_a_good_file_previews_then_imports_it(administrator_client, units):
    preview = _upload(
        administrator_client,
        _csv("ACD-1,Ana Ruiz,ana@cc.example,sales,Inbound,yes", "ACD-2,Bo,,care,,"),
    )

    assert "2 agents are ready to import" in _page(preview)
    assert not Agent.objects.exists()

    response = administrator_client.post(IMPORT, _import_form(preview), follow=True)

    assert response.redirect_chain == [(reverse("accounts:mapping"), 302)]
    assert "Imported agents: 2 created, 0 updated, 0 unchanged." in _page(response)
    assert set(Agent.objects.values_list("external_id", flat=True)) == {"ACD-1", "ACD-2"}
    assert AuditEntry.objects.get(action="agents.upsert").summary.startswith("CSV upload:")


def test_a_3_mb_file_of_20000_agents_previews_and_imports(administrator_client, units):
    # Padded names bring the file to about 3 MB, past Django's 2.5 MB limit for form fields.
    rows = [
        f"ACD-{n:05d},Agent {n:05d} {'Lastname-' * 10},agent{n:05d}@cc.example,sales,Inbound,yes"
        for n in range(1, MAX_ROWS + 1)
    ]
    data = _csv(*rows)
    assert 2.9e6 < len(data) < 3.2e6

    preview = _upload(administrator_client, data)

    assert f"{MAX_ROWS} agents are ready to import" in _page(preview)
    fields = _import_form(preview)
    assert sum(len(name) + len(value) for name, value in fields.items()) < 500

    response = administrator_client.post(IMPORT, fields, follow=True)

    assert response.redirect_chain == [(reverse("accounts:mapping"), 302)]
    assert f"Imported agents: {MAX_ROWS} created, 0 updated, 0 unchanged." in _page(response)
    assert Agent.objects.count() == MAX_ROWS
    assert Agent.objects.get(external_id="ACD-20000").email == "agent20000@cc.example"


def test_an_upload_is_imported_once(administrator_client, units):
    preview = _upload(administrator_client, _csv("ACD-1,Ana,ana@cc.example,sales,,"))
    administrator_client.post(IMPORT, _import_form(preview))
    Agent.objects.all().delete()

    again = administrator_client.post(IMPORT, _import_form(preview))

    assert again.status_code == 404
    assert "Upload the file again" in _page(again)
    assert not Agent.objects.exists()
    assert not AgentImportUpload.objects.exists()


def test_another_user_cannot_import_someone_elses_upload(administrator_client, units):
    preview = _upload(administrator_client, _csv("ACD-1,Ana,ana@cc.example,sales,,"))
    other = Client()
    other.force_login(AdministratorFactory(username="ines"))

    response = other.post(IMPORT, _import_form(preview))

    assert response.status_code == 404
    assert "is not available" in _page(response)
    assert "Upload the file again" in _page(response)
    assert not Agent.objects.exists()
    # The owner still can.
    administrator_client.post(IMPORT, _import_form(preview))
    assert Agent.objects.filter(external_id="ACD-1").exists()


def test_an_expired_upload_is_refused_and_asks_for_the_file_again(administrator_client, units):
    preview = _upload(administrator_client, _csv("ACD-1,Ana,ana@cc.example,sales,,"))
    AgentImportUpload.objects.update(expires_at=timezone.now() - timedelta(seconds=1))

    response = administrator_client.post(IMPORT, _import_form(preview))

    assert response.status_code == 410
    assert "expired" in _page(response)
    assert "Upload the file again" in _page(response)
    assert not Agent.objects.exists()


def test_expired_uploads_are_deleted_when_a_file_is_uploaded(administrator_client, units):
    _upload(administrator_client, _csv("ACD-1,Ana,ana@cc.example,sales,,"))
    AgentImportUpload.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    kept = _upload(administrator_client, _csv("ACD-2,Bo,bo@cc.example,sales,,"))

    assert list(AgentImportUpload.objects.values_list("token", flat=True)) == [
        AgentImportUpload.objects.get(token=_import_form(kept)["upload"]).token
    ]


def test_a_person_keeps_only_their_three_latest_uploads(administrator_client, units):
    previews = [
        _upload(administrator_client, _csv(f"ACD-{n},Agent {n},,sales,,")) for n in range(4)
    ]

    oldest = administrator_client.post(IMPORT, _import_form(previews[0]))
    latest = administrator_client.post(IMPORT, _import_form(previews[3]))

    assert oldest.status_code == 404
    assert latest.status_code == 302
    assert AgentImportUpload.objects.count() == 2


def test_an_import_naming_no_real_upload_imports_nothing(administrator_client, units):
    for upload in ["", "not-a-token", "00000000-0000-0000-0000-000000000000"]:
        response = administrator_client.post(IMPORT, {"step": "import", "upload": upload})

        assert response.status_code == 404
        assert 'role="alert"' in _page(response)
    assert not Agent.objects.exists()


def test_a_file_beyond_the_size_limit_is_refused_before_it_is_stored(administrator_client, units):
    line = "ACD-1,Ana,ana@cc.example,sales,," + " " * 1000
    response = _upload(administrator_client, _csv(*[line] * 5300))

    assert "larger than 5 MB" in _page(response)
    assert not AgentImportUpload.objects.exists()


def test_uploading_a_bad_file_shows_the_errors_and_keeps_nothing(administrator_client, units):
    response = _upload(
        administrator_client, _csv("ACD-1,Ana,ana@cc.example,sales,,", "ACD-2,Bo,bo@,nowhere,,")
    )

    page = _page(response)
    assert "1 of 2 rows have errors" in page
    assert "email &#x27;bo@&#x27; is not a valid address." in page
    assert "business_unit &#x27;nowhere&#x27; does not exist." in page
    assert 'name="upload"' not in page  # no import button
    assert not AgentImportUpload.objects.exists()
    assert not Agent.objects.exists()


def test_an_import_rechecks_every_row(administrator_client, db):
    unit = BusinessUnitFactory(code="gone")
    preview = _upload(administrator_client, _csv("ACD-1,Ana,ana@cc.example,gone,,"))
    unit.delete()

    response = administrator_client.post(IMPORT, _import_form(preview))

    assert "business_unit &#x27;gone&#x27; does not exist." in _page(response)
    assert not Agent.objects.exists()


def test_reimporting_the_same_file_changes_nothing(administrator_client, units):
    AgentFactory(external_id="ACD-1", name="Ana", email="ana@cc.example", business_unit=units[0])
    preview = _upload(administrator_client, _csv("ACD-1,Ana,ana@cc.example,sales,,"))

    response = administrator_client.post(IMPORT, _import_form(preview), follow=True)

    assert "0 created, 0 updated, 1 unchanged" in _page(response)


# --- encodings ------------------------------------------------------------------------

# UTF-8 but for line 3, which a Windows-1252 editor saved.
MIXED = (
    f"{HEADER}\nACD-1,José Núñez,jose@cc.example,sales,,\n".encode()
    + "ACD-2,Zoë Müller,zoe@cc.example,sales,,\n".encode("cp1252")
)


def test_a_mixed_encoding_file_is_refused_naming_its_line(administrator_client, units):
    AgentFactory(external_id="ACD-1", name="José Núñez", business_unit=units[0])

    response = _upload(administrator_client, MIXED)

    page = _page(response)
    assert "The file is not valid UTF-8 on line 3." in page
    assert "choose its encoding" in page
    assert "JosÃ©" not in page
    assert 'name="upload"' not in page
    assert not AgentImportUpload.objects.exists()
    assert Agent.objects.get(external_id="ACD-1").name == "José Núñez"


def test_choosing_windows_1252_imports_a_windows_1252_file_correctly(administrator_client, units):
    data = f"{HEADER}\r\nACD-1,José Núñez,jose@cc.example,sales,Équipe,yes\r\n".encode("cp1252")
    assert "not valid UTF-8 on line 2." in _page(_upload(administrator_client, data))

    preview = _upload(administrator_client, data, encoding="windows-1252")
    administrator_client.post(IMPORT, _import_form(preview))

    agent = Agent.objects.get(external_id="ACD-1")
    assert agent.name == "José Núñez"
    assert list(agent.teams.values_list("name", flat=True)) == ["Équipe"]


def test_choosing_utf_8_with_windows_1252_lines_imports_a_mixed_file(administrator_client, units):
    preview = _upload(administrator_client, MIXED, encoding="utf-8+windows-1252")
    administrator_client.post(IMPORT, _import_form(preview))

    assert dict(Agent.objects.values_list("external_id", "name")) == {
        "ACD-1": "José Núñez",
        "ACD-2": "Zoë Müller",
    }


def test_choosing_windows_1252_for_a_file_with_utf_8_lines_is_refused(administrator_client, units):
    response = _upload(administrator_client, MIXED, encoding="windows-1252")

    assert "Line 2 is UTF-8" in _page(response)
    assert not AgentImportUpload.objects.exists()
