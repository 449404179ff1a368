"""Agents from the contact center: upsert (accounts.services), the CSV preview and its
decoding (accounts.csvimport, accounts.csvencoding). The import page is
tests/accounts/test_agents_import.py; the demo seed, tests/demo/test_seed.py."""

import pytest

from accounts.csvencoding import CsvEncoding
from accounts.csvimport import csv_preview
from accounts.models import Agent, AgentTeam, BusinessUnit
from accounts.services import (
    AgentInput,
    MappingError,
    agents_upsert,
    business_unit_upsert,
)
from integrations.models import AuditEntry
from tests.accounts.factories import AgentTeamFactory, BusinessUnitFactory

HEADER = "external_id,name,email,business_unit,teams,teams_enabled"


@pytest.fixture
def units(db):
    return BusinessUnitFactory(code="sales", name="Sales"), BusinessUnitFactory(
        code="care", name="Customer Care"
    )


def _row(external_id="ACD-1", **fields) -> AgentInput:
    return AgentInput(
        external_id=external_id,
        name=fields.pop("name", f"Agent {external_id}"),
        business_unit=fields.pop("business_unit", "sales"),
        email=fields.pop("email", f"{external_id.lower()}@cc.example"),
        **fields,
    )


def _team_names(external_id: str) -> set[str]:
    return set(Agent.objects.get(external_id=external_id).teams.values_list("name", flat=True))


# --- agents_upsert -----------------------------------------------------------------


def test_upsert_creates_agents_and_their_teams_in_the_unit(administrator, units):
    sales, _care = units

    result = agents_upsert(
        actor=administrator,
        rows=[
            _row("ACD-1", name="Ana Ruiz", teams=("Inbound", "Chat"), teams_enabled=False),
            _row("ACD-2", business_unit="care", teams=("Inbound",)),
        ],
        source="API",
    )

    assert (result.created, result.updated, result.unchanged) == (["ACD-1", "ACD-2"], [], [])
    ana = Agent.objects.get(external_id="ACD-1")
    assert (ana.name, ana.email, ana.business_unit, ana.teams_enabled) == (
        "Ana Ruiz",
        "acd-1@cc.example",
        sales,
        False,
    )
    assert Agent.objects.get(external_id="ACD-2").teams_enabled is True  # the default
    # "Inbound" is a team of each unit, not one team shared by both.
    assert set(AgentTeam.objects.values_list("business_unit__code", "name")) == {
        ("sales", "Inbound"),
        ("sales", "Chat"),
        ("care", "Inbound"),
    }
    assert _team_names("ACD-1") == {"Inbound", "Chat"}
    entry = AuditEntry.objects.get(action="agents.upsert")
    assert entry.summary == "API: 2 agents created, 0 updated"
    assert entry.actor == administrator


def test_upsert_reuses_existing_teams(units):
    team = AgentTeamFactory(business_unit=units[0], name="Inbound")

    agents_upsert(actor=None, rows=[_row(teams=("Inbound",))], source="API")

    assert list(Agent.objects.get().teams.all()) == [team]
    assert AgentTeam.objects.count() == 1


def test_upsert_updates_what_changed_and_reports_the_rest_unchanged(units):
    agents_upsert(
        actor=None,
        rows=[_row("ACD-1", teams=("Inbound",)), _row("ACD-2"), _row("ACD-3")],
        source="API",
    )

    result = agents_upsert(
        actor=None,
        rows=[
            _row("ACD-1", teams=("Chat",)),  # teams only
            _row("ACD-2", name="Renamed", business_unit="care"),
            _row("ACD-3"),
            _row("ACD-4"),
        ],
        source="API",
    )

    assert (result.created, result.updated, result.unchanged) == (
        ["ACD-4"],
        ["ACD-1", "ACD-2"],
        ["ACD-3"],
    )
    assert _team_names("ACD-1") == {"Chat"}
    moved = Agent.objects.get(external_id="ACD-2")
    assert (moved.name, moved.business_unit.code) == ("Renamed", "care")


def test_upsert_leaves_teams_and_the_teams_switch_alone_when_not_given(units):
    agents_upsert(actor=None, rows=[_row(teams=("Inbound",), teams_enabled=False)], source="API")

    result = agents_upsert(actor=None, rows=[_row(teams=None, teams_enabled=None)], source="API")

    assert result.unchanged == ["ACD-1"]
    assert _team_names("ACD-1") == {"Inbound"}
    assert Agent.objects.get().teams_enabled is False


def test_upsert_with_an_empty_team_list_removes_the_agent_from_its_teams(units):
    agents_upsert(actor=None, rows=[_row(teams=("Inbound",))], source="API")

    result = agents_upsert(actor=None, rows=[_row(teams=())], source="API")

    assert result.updated == ["ACD-1"]
    assert _team_names("ACD-1") == set()


def test_upsert_is_idempotent(units):
    rows = [_row(f"ACD-{i}", teams=("Inbound", "Chat"), teams_enabled=i % 2 == 0) for i in range(5)]
    agents_upsert(actor=None, rows=rows, source="API")
    before = {a.external_id: (a.updated_at, a.name) for a in Agent.objects.all()}
    audits = AuditEntry.objects.count()

    result = agents_upsert(actor=None, rows=rows, source="API")

    assert result.created == result.updated == []
    assert len(result.unchanged) == 5
    assert {a.external_id: (a.updated_at, a.name) for a in Agent.objects.all()} == before
    assert AgentTeam.objects.count() == 2
    assert AuditEntry.objects.count() == audits  # nothing changed, nothing to record


def test_upsert_writes_in_batches_not_a_query_per_agent(units, django_assert_max_num_queries):
    # A 20,000-row CSV import runs in one web request: it must not cost queries per row.
    agents_upsert(
        actor=None, rows=[_row(f"ACD-{i}", teams=("Inbound",)) for i in range(300)], source="API"
    )
    rows = [
        _row(f"ACD-{i}", name=f"Renamed {i}", teams=("Chat",), teams_enabled=False)
        for i in range(600)
    ]

    with django_assert_max_num_queries(20):
        result = agents_upsert(actor=None, rows=rows, source="API")

    assert (len(result.created), len(result.updated)) == (300, 300)
    renamed = Agent.objects.get(external_id="ACD-299")
    assert (renamed.name, renamed.teams_enabled, _team_names("ACD-299")) == (
        "Renamed 299",
        False,
        {"Chat"},
    )
    assert renamed.updated_at > renamed.created_at
    assert _team_names("ACD-599") == {"Chat"}
    assert AgentTeam.objects.get(name="Inbound").agents.count() == 0


def test_an_unknown_business_unit_writes_nothing(units):
    with pytest.raises(MappingError, match="Unknown business units: nowhere, void"):
        agents_upsert(
            actor=None,
            rows=[
                _row("ACD-1", teams=("Inbound",)),
                _row("ACD-2", business_unit="void"),
                _row("ACD-3", business_unit="nowhere"),
            ],
            source="API",
        )

    assert not Agent.objects.exists()
    assert not AgentTeam.objects.exists()
    assert not AuditEntry.objects.filter(action="agents.upsert").exists()


def test_a_business_unit_is_created_then_renamed_with_an_audit_entry(administrator):
    unit, created = business_unit_upsert(actor=administrator, code="cc", name="Contact Center")
    same, created_again = business_unit_upsert(actor=administrator, code="cc", name="Contact Ctr")

    assert created and not created_again and same.pk == unit.pk
    assert BusinessUnit.objects.get(code="cc").name == "Contact Ctr"
    actions = list(AuditEntry.objects.order_by("id").values_list("action", "changes"))
    assert actions == [
        ("business_unit.create", {}),
        ("business_unit.update", {"name": ["Contact Center", "Contact Ctr"]}),
    ]


def test_upserting_a_business_unit_unchanged_records_nothing(db):
    business_unit_upsert(actor=None, code="cc", name="Contact Center")
    business_unit_upsert(actor=None, code="cc", name="Contact Center")
    assert AuditEntry.objects.count() == 1


# --- csv_preview ---------------------------------------------------------------------


def _csv(*lines: str, header: str = HEADER, encoding: str = "utf-8") -> bytes:
    return "\n".join([header, *lines]).encode(encoding)


def _errors(preview) -> dict[int, list[str]]:
    return {row.line: row.errors for row in preview.error_rows}


def test_a_good_file_previews_every_agent(units):
    preview = csv_preview(
        _csv(
            "ACD-1,Ana Ruiz,ana@cc.example,sales,Inbound; Chat ,yes",
            "ACD-2,Bo Chen,,care,,no",
            "ACD-3,Cy Diaz,cy@cc.example,sales,,",
        )
    )

    assert preview.ok, (preview.file_errors, _errors(preview))
    assert [row.line for row in preview.rows] == [2, 3, 4]
    assert preview.agents == [
        AgentInput("ACD-1", "Ana Ruiz", "sales", "ana@cc.example", ("Inbound", "Chat"), True),
        AgentInput("ACD-2", "Bo Chen", "care", "", (), False),
        AgentInput("ACD-3", "Cy Diaz", "sales", "cy@cc.example", (), None),
    ]
    assert not Agent.objects.exists()  # a preview writes nothing


def test_optional_columns_may_be_left_out_and_the_header_is_forgiving(units):
    data = "\ufeff External_ID ,NAME,Email,Business_Unit\r\nACD-1,Ana,ana@cc.example,sales\r\n"

    preview = csv_preview(data.encode())

    assert preview.ok
    assert preview.agents == [AgentInput("ACD-1", "Ana", "sales", "ana@cc.example", None, None)]


def test_a_file_with_missing_or_unknown_columns_is_refused_whole(units):
    preview = csv_preview(_csv("ACD-1,Ana,sales,x", header="external_id,name,business_unit,skill"))

    assert not preview.ok
    assert preview.file_errors[:2] == ["Missing columns: email.", "Unknown columns: skill."]
    assert "Expected the header: external_id,name,email,business_unit" in preview.file_errors[2]
    assert preview.rows == []


def test_bad_rows_get_errors_with_their_line_numbers(units):
    preview = csv_preview(
        _csv(
            "ACD-1,Ana,ana@cc.example,sales,,yes",
            "ACD-2,Bo,not-an-address,sales,,",
            "ACD-1,Ana again,ana2@cc.example,sales,,",
            "ACD-4,Cy,cy@cc.example,mars,,",
            "ACD-5,Di,di@cc.example,sales,,perhaps",
            ",,,,,",
            ",Ed,ed@cc.example,,,",
        )
    )

    assert not preview.ok
    assert _errors(preview) == {
        3: ["email 'not-an-address' is not a valid address."],
        4: ["external_id 'ACD-1' repeats line 2."],
        5: ["business_unit 'mars' does not exist."],
        6: ["teams_enabled 'perhaps' is not yes or no."],
        8: ["external_id is empty.", "business_unit is empty."],
    }
    assert [row.values["external_id"] for row in preview.rows if row.agent] == ["ACD-1"]


def test_line_numbers_count_the_blank_lines_people_leave_in_files(units):
    preview = csv_preview(_csv("ACD-1,Ana,ana@cc.example,sales,,", "", "ACD-2,Bo,bad,sales,,"))

    assert _errors(preview) == {4: ["email 'bad' is not a valid address."]}


def test_a_windows_1252_file_is_read_when_chosen(units):
    data = (HEADER + "\r\nACD-1,Zoë Müller,zoe@cc.example,sales,Équipe,yes\r\n").encode("cp1252")

    preview = csv_preview(data, encoding=CsvEncoding.WINDOWS_1252)

    assert preview.ok
    assert preview.agents[0].name == "Zoë Müller"
    assert preview.agents[0].teams == ("Équipe",)


def test_a_file_that_is_not_utf_8_is_refused_naming_its_lines(units):
    data = _csv(
        *[f"ACD-{n},Ren\xe9 {n},,sales,," if n % 2 else f"ACD-{n},Ana,,sales,," for n in range(20)],
        encoding="cp1252",
    )

    preview = csv_preview(data)

    assert not preview.ok
    assert preview.rows == []
    assert preview.file_errors == [
        "The file is not valid UTF-8 on lines 3, 5, 7, 9, 11 and 5 more. Save it as CSV UTF-8, "
        "or choose its encoding (for example Windows-1252) and upload it again."
    ]


def test_a_utf_8_file_reads_the_same_with_or_without_a_byte_order_mark(units):
    data = _csv("ACD-1,José Núñez,,sales,,")

    assert csv_preview(data).agents == csv_preview(b"\xef\xbb\xbf" + data).agents
    assert csv_preview(data).agents[0].name == "José Núñez"


@pytest.mark.parametrize("encoding", list(CsvEncoding))
def test_a_utf_16_file_with_its_byte_order_mark_is_read_whatever_is_chosen(units, encoding):
    data = "\n".join([HEADER, "ACD-1,José Núñez,,sales,,"]).encode("utf-16")

    assert csv_preview(data, encoding=encoding).agents[0].name == "José Núñez"


def test_a_mixed_file_read_as_windows_1252_is_refused_naming_its_utf_8_lines(units):
    data = _csv("ACD-1,José,,sales,,", "ACD-2,Ana,,sales,,", "ACD-3,Núñez,,sales,,")

    preview = csv_preview(data + "\nACD-4,Zoë,,sales,,".encode("cp1252"), encoding="windows-1252")

    assert preview.file_errors[0].startswith("Lines 2, 4 are UTF-8, not Windows-1252")


def test_utf_8_with_windows_1252_lines_reads_each_line_in_its_own_encoding(units):
    data = _csv("ACD-1,José,,sales,,") + "\nACD-2,Zoë,,sales,,\n".encode("cp1252")

    preview = csv_preview(data, encoding=CsvEncoding.UTF_8_WITH_WINDOWS_1252)

    assert [agent.name for agent in preview.agents] == ["José", "Zoë"]


@pytest.mark.parametrize("encoding", list(CsvEncoding))
def test_a_file_that_is_not_text_is_refused(units, encoding):
    preview = csv_preview(b"\x81\x8d\x8f\x90\x9d binary", encoding=encoding)

    assert not preview.ok
    assert "is not valid" in preview.file_errors[0]


@pytest.mark.parametrize("data", [b"", b"\n\n"])
def test_an_empty_file_is_refused(units, data):
    preview = csv_preview(data)

    assert not preview.ok
    assert preview.rows == []
    assert "Expected the header" in preview.file_errors[-1]


def test_a_file_with_only_a_header_has_no_agent_rows(units):
    preview = csv_preview(_csv(",,,,,"))

    assert not preview.ok
    assert preview.file_errors == ["The file has no agent rows."]
