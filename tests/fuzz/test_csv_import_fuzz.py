"""The agents CSV upload with generated files: a preview with line-numbered errors or a
valid preview, never a 500; nothing stored before confirming; a failing confirm stores
nothing."""

from __future__ import annotations

import base64
import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from accounts.csvimport import OPTIONAL_COLUMNS, REQUIRED_COLUMNS
from accounts.models import Agent
from tests.accounts.factories import BusinessUnitFactory
from tests.fuzz.conftest import row_counts

IMPORT = reverse("accounts:agents_import")
HEADER = ",".join(REQUIRED_COLUMNS)

# The signed-in client, the database and the unit are shared by every example: each one
# compares row counts around its own requests and removes the agents it imported.
FUZZ = settings(
    max_examples=40,
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
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "latin-1", "utf-16", "raw"]))
    if encoding == "raw":
        return draw(st.binary(max_size=300))
    return text.encode(encoding, errors="replace")


@pytest.fixture
def unit(db):
    return BusinessUnitFactory(name="Voice", code="voice")


def upload(client, data: bytes):
    file = SimpleUploadedFile("agents.csv", data, content_type="text/csv")
    return client.post(IMPORT, {"file": file})


def assert_clear_preview(response) -> None:
    """A page that either previews valid rows or says, by line, what is wrong."""
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
@given(data=csv_files())
@example(data=f"{HEADER}\nA-1,Ana,,voice\n".encode())
@example(data=b"")
@example(data=HEADER.encode())
@example(data=b"\xef\xbb\xbf" + f"{HEADER}\nA-1,Ana,,voice\n".encode())
@example(data=f"{HEADER}\nA-1,Ren\xe9,,voice\n".encode("latin-1"))
@example(data=f"{HEADER}\nA-1,Ana,,voice\nA-1,Ana,,voice\n".encode())
@example(data=f"{HEADER}\nA-\x001,Ana,,voice\n".encode())
@example(data=f"{HEADER}\nA-1,Ana,,vo\x00ice\n".encode())
@example(data=f"{HEADER}\nA-1,{'n' * 300},,voice\n".encode())
@example(data=f"{HEADER}\n{'i' * 200},Ana,,voice\n".encode())
@example(data=f"{HEADER},teams\nA-1,Ana,,voice,{'t' * 250}\n".encode())
@example(data=f'{HEADER}\nA-1,"{"y" * 200_000}",,voice\n'.encode())
@example(data=f'{HEADER}\nA-1,"unterminated,,voice\n'.encode())
def test_an_upload_previews_or_explains_and_stores_nothing(admin_client, unit, data):
    before = row_counts()
    response = upload(admin_client, data)
    assert_clear_preview(response)
    assert row_counts() == before

    # Confirming: a preview with errors imports nothing; a clean one imports every row.
    preview = response.context["preview"]
    payload = response.context.get("payload")
    if payload is None:
        return
    confirm = admin_client.post(IMPORT, {"step": "import", "payload": payload})
    if preview.ok:
        assert confirm.status_code == 302
        external_ids = [agent.external_id for agent in preview.agents]
        assert Agent.objects.filter(external_id__in=external_ids).count() == len(set(external_ids))
        Agent.objects.filter(external_id__in=external_ids).delete()
    else:
        assert_clear_preview(confirm)
        assert row_counts() == before


@FUZZ
@given(
    payload=st.one_of(
        st.text(st.characters(codec="utf-8"), max_size=200),
        st.binary(max_size=200).map(base64.b64encode),
    )
)
@example(payload="not base64 at all!")
@example(payload="\x80\xf3")  # not ASCII: base64 refuses it with a ValueError
@example(payload=base64.b64encode(f"{HEADER}\nA-1,Ana,,nowhere\n".encode()).decode())
@example(payload=base64.b64encode(f"{HEADER}\nA-1,Ana\x00,,voice\n".encode()).decode())
def test_an_edited_confirm_payload_stores_nothing(admin_client, unit, payload):
    before = row_counts()
    response = admin_client.post(IMPORT, {"step": "import", "payload": payload})
    if response.status_code == 302:  # the payload happened to be a valid CSV: it imported
        return
    assert_clear_preview(response)
    assert row_counts() == before


@FUZZ
@given(rows=st.integers(min_value=1, max_value=5))
def test_a_confirm_that_fails_stores_none_of_the_rows(admin_client, db, rows):
    """The unit is deleted between preview and confirm: the confirm re-checks every row."""
    unit = BusinessUnitFactory(name="Gone soon", code="gone")
    lines = "".join(f"G-{n},Agent {n},,gone\n" for n in range(rows))
    response = upload(admin_client, f"{HEADER}\n{lines}".encode())
    assert response.context["preview"].ok
    unit.delete()
    before = row_counts()
    confirm = admin_client.post(IMPORT, {"step": "import", "payload": response.context["payload"]})
    assert_clear_preview(confirm)
    assert all("does not exist" in row.errors[0] for row in confirm.context["preview"].rows)
    assert row_counts() == before
