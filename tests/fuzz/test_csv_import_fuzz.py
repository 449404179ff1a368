"""The agents CSV upload with generated files: a preview with line-numbered errors or a
valid preview, never a 500; only the upload itself is stored before confirming; a failing
or forged confirm stores nothing."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from accounts.csvencoding import CsvEncoding
from accounts.csvimport import OPTIONAL_COLUMNS, REQUIRED_COLUMNS
from accounts.models import Agent, AgentImportUpload
from tests.accounts.factories import BusinessUnitFactory
from tests.factories import AdministratorFactory
from tests.fuzz.conftest import row_counts
from tests.plugins.hypothesis_profiles import examples

IMPORT = reverse("accounts:agents_import")
HEADER = ",".join(REQUIRED_COLUMNS)

# The signed-in client, the database and the unit are shared by every example: each one
# compares row counts around its own requests and removes the agents it imported.
FUZZ = settings(
    max_examples=examples(40),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

cell = st.one_of(
    st.text(max_size=20),
    st.sampled_from(
        [
            "",
            "voice",
            "ana@contoso.example",
            "not-an-email",
            "yes",
            "maybe",
            "Support;Sales",
            '"',
            'a "quoted" value',
            "line\nbreak",
            "comma, inside",
            "\x00",
            "x" * 300,
            "y" * 200_000,  # beyond csv's default field size limit
            "é" * 150,
        ]
    ),
)
column = st.one_of(
    st.sampled_from([*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS]),
    st.text(max_size=12),
    st.sampled_from(["EXTERNAL_ID", " name ", "", "\ufeffexternal_id"]),
)


@st.composite
def csv_files(draw) -> bytes:
    """A CSV: some header (usually the right one), rows of odd cells, duplicates, an encoding."""
    if draw(st.booleans()):
        header = list(REQUIRED_COLUMNS) + draw(st.lists(st.sampled_from(OPTIONAL_COLUMNS)))
    else:
        header = draw(st.lists(column, max_size=7))
    rows = draw(st.lists(st.lists(cell, max_size=len(header) + 2), max_size=6))
    if rows and draw(st.booleans()):
        rows.append(rows[0])  # a duplicate row
    out = io.StringIO()
    writer = csv.writer(out, quoting=draw(st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL])))
    if header or draw(st.booleans()):
        writer.writerow(header)
    writer.writerows(rows)
    text = out.getvalue()
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "latin-1", "utf-16", "raw", "mixed"]))
    if encoding == "raw":
        return draw(st.binary(max_size=300))
    if encoding == "mixed":  # UTF-8, but for one line a Windows-1252 editor saved
        lines = text.splitlines(keepends=True) or [""]
        at = draw(st.integers(min_value=0, max_value=len(lines) - 1))
        return b"".join(
            line.encode("cp1252" if n == at else "utf-8", errors="replace")
            for n, line in enumerate(lines)
        )
    return text.encode(encoding, errors="replace")


@pytest.fixture
def unit(db):
    return BusinessUnitFactory(name="Voice", code="voice")


def upload(client, data: bytes, encoding: str = ""):
    file = SimpleUploadedFile("agents.csv", data, content_type="text/csv")
    return client.post(IMPORT, {"file": file, "encoding": encoding})


def stored() -> dict[str, int]:
    """Row counts but for the uploads waiting for their import, which a preview keeps."""
    counts = row_counts()
    del counts[AgentImportUpload._meta.db_table]
    return counts


def assert_clear_preview(response) -> None:
    """A page that either previews valid rows or says, by line, what is wrong."""
    if response.context.get("refusal"):  # the import named no upload it may import
        assert response.status_code in (404, 410)
        assert 'role="alert"' in response.content.decode()
        return
    assert response.status_code == 200
    preview = response.context["preview"]
    if preview is None:  # the form refused the upload itself (an empty file)
        assert response.context["form"].errors["file"]
        return
    page = response.content.decode()
    if preview.ok:
        assert preview.rows
        return
    assert preview.file_errors or preview.error_rows
    for error in preview.file_errors:
        assert error, "an empty file error"
    for row in preview.error_rows:
        assert row.line >= 2  # line 1 is the header
        assert f"<td>{row.line}</td>" in page
        assert all(row.errors)


@FUZZ
@given(data=csv_files(), encoding=st.sampled_from(["", *CsvEncoding.values]))
@example(data=f"{HEADER}\nA-1,Ana,,voice\n".encode(), encoding="")
@example(data=b"", encoding="")
@example(data=HEADER.encode(), encoding="")
@example(data=b"\xef\xbb\xbf" + f"{HEADER}\nA-1,Ana,,voice\n".encode(), encoding="")
@example(data=f"{HEADER}\nA-1,Ren\xe9,,voice\n".encode("latin-1"), encoding="")
@example(data=f"{HEADER}\nA-1,Ren\xe9,,voice\n".encode("latin-1"), encoding="windows-1252")
@example(data=f"{HEADER}\nA-1,Jos\xe9,,voice\n".encode() + b"A-2,Zo\xeb,,voice\n", encoding="")
@example(data=f"{HEADER}\nA-1,Ana,,voice\n".encode("utf-16"), encoding="windows-1252")
@example(data=b"\xff\xfe" + f"{HEADER}\nA-1\n".encode(), encoding="")  # not UTF-16 at all
@example(data=f"{HEADER}\nA-1,Ana,,voice\nA-1,Ana,,voice\n".encode(), encoding="")
@example(data=f"{HEADER}\nA-\x001,Ana,,voice\n".encode(), encoding="")
@example(data=f"{HEADER}\nA-1,Ana,,vo\x00ice\n".encode(), encoding="")
@example(data=f"{HEADER}\nA-1,{'n' * 300},,voice\n".encode(), encoding="")
@example(data=f"{HEADER}\n{'i' * 200},Ana,,voice\n".encode(), encoding="")
@example(data=f"{HEADER},teams\nA-1,Ana,,voice,{'t' * 250}\n".encode(), encoding="")
@example(data=f'{HEADER}\nA-1,"{"y" * 200_000}",,voice\n'.encode(), encoding="")
@example(data=f'{HEADER}\nA-1,"unterminated,,voice\n'.encode(), encoding="")
def test_an_upload_previews_or_explains_and_stores_nothing(admin_client, unit, data, encoding):
    before = stored()
    response = upload(admin_client, data, encoding)
    assert_clear_preview(response)
    assert stored() == before

    # Only a file that can be imported is kept, and only it gets an Import button.
    preview = response.context["preview"]
    kept = response.context.get("upload")
    assert (kept is not None) == bool(preview and preview.ok)
    if kept is None:
        assert 'name="upload"' not in response.content.decode()
        return
    assert AgentImportUpload.objects.filter(pk=kept.pk, owner=response.wsgi_request.user).exists()

    confirm = admin_client.post(IMPORT, {"step": "import", "upload": str(kept.token)})
    assert confirm.status_code == 302
    assert not AgentImportUpload.objects.filter(pk=kept.pk).exists()  # imported once
    external_ids = [agent.external_id for agent in preview.agents]
    assert Agent.objects.filter(external_id__in=external_ids).count() == len(set(external_ids))
    Agent.objects.filter(external_id__in=external_ids).delete()


@FUZZ
@given(
    token=st.one_of(
        st.text(st.characters(codec="utf-8"), max_size=60),
        st.uuids().map(str),
    )
)
@example(token="")
@example(token="not a token at all!")
@example(token="\x00")
@example(token=str(uuid.UUID(int=0)))
def test_an_import_naming_no_upload_of_ones_own_stores_nothing(admin_client, unit, token):
    # Someone else's upload, waiting for its import: its token is never sent here.
    other = AgentImportUpload.objects.create(
        owner=AdministratorFactory(),
        original_name="theirs.csv",
        encoding="utf-8",
        data=f"{HEADER}\nT-1,Theirs,,voice\n".encode(),
        row_count=1,
        expires_at=timezone.now() + timedelta(minutes=5),
    )
    before = stored()
    response = admin_client.post(IMPORT, {"step": "import", "upload": token})
    assert response.status_code == 404
    assert_clear_preview(response)
    assert stored() == before
    assert not Agent.objects.filter(external_id="T-1").exists()
    assert AgentImportUpload.objects.filter(pk=other.pk).exists()  # still theirs to import
    other.delete()


@FUZZ
@given(rows=st.integers(min_value=1, max_value=5))
def test_a_confirm_that_fails_stores_none_of_the_rows(admin_client, db, rows):
    """The unit is deleted between preview and confirm: the confirm re-checks every row."""
    unit = BusinessUnitFactory(name="Gone soon", code="gone")
    lines = "".join(f"G-{n},Agent {n},,gone\n" for n in range(rows))
    response = upload(admin_client, f"{HEADER}\n{lines}".encode())
    assert response.context["preview"].ok
    unit.delete()
    before = stored()
    token = str(response.context["upload"].token)
    confirm = admin_client.post(IMPORT, {"step": "import", "upload": token})
    assert_clear_preview(confirm)
    assert all("does not exist" in row.errors[0] for row in confirm.context["preview"].rows)
    assert stored() == before
