"""CSV upload of agents: parse, validate every row, then import all or nothing."""

import csv
import io
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from accounts.csvencoding import CsvDecodeError, CsvEncoding, csv_text_decode
from accounts.models import Agent, AgentTeam
from accounts.services import AgentInput, unknown_business_units

REQUIRED_COLUMNS = ("external_id", "name", "email", "business_unit")
OPTIONAL_COLUMNS = ("teams", "teams_enabled")
MAX_ROWS = 20_000
MAX_BYTES = 5 * 1024 * 1024
TOO_LARGE = f"The file is larger than {MAX_BYTES // (1024 * 1024)} MB."
TRUE_WORDS = {"1", "true", "yes", "y", "on"}
FALSE_WORDS = {"0", "false", "no", "n", "off"}
# What the columns hold, so a row the database would refuse fails in the preview.
MAX_LENGTHS = {
    "external_id": Agent._meta.get_field("external_id").max_length,
    "name": Agent._meta.get_field("name").max_length,
    "email": Agent._meta.get_field("email").max_length,
}
MAX_TEAM_LENGTH = AgentTeam._meta.get_field("name").max_length


@dataclass
class CsvRow:
    line: int
    values: dict[str, str]
    errors: list[str] = field(default_factory=list)
    agent: AgentInput | None = None


@dataclass
class CsvPreview:
    rows: list[CsvRow] = field(default_factory=list)
    file_errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.file_errors and not any(row.errors for row in self.rows)

    @property
    def error_rows(self) -> list[CsvRow]:
        return [row for row in self.rows if row.errors]

    @property
    def agents(self) -> list[AgentInput]:
        return [row.agent for row in self.rows if row.agent is not None]


def csv_preview(data: bytes, *, encoding: str = CsvEncoding.UTF_8) -> CsvPreview:
    """Parse and validate an agents CSV without writing anything.

    The bytes are decoded strictly in the chosen encoding (accounts.csvencoding): a file
    that does not decode is refused whole, naming its lines, never guessed at.
    """
    preview = CsvPreview()
    if len(data) > MAX_BYTES:
        preview.file_errors.append(TOO_LARGE)
        return preview
    try:
        text = csv_text_decode(data, encoding=encoding)
    except CsvDecodeError as exc:
        preview.file_errors.append(str(exc))
        return preview
    reader = csv.DictReader(io.StringIO(text))
    try:
        return _read(reader, preview)
    except csv.Error as exc:  # e.g. a field over csv's size limit
        preview.file_errors.append(f"Line {reader.line_num}: the file is not valid CSV ({exc}).")
        return preview


def _read(reader: csv.DictReader, preview: CsvPreview) -> CsvPreview:
    header = [name.strip().lower() for name in (reader.fieldnames or [])]
    missing = [column for column in REQUIRED_COLUMNS if column not in header]
    unknown = [c for c in header if c and c not in (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS)]
    if missing:
        preview.file_errors.append(f"Missing columns: {', '.join(missing)}.")
    if unknown:
        preview.file_errors.append(f"Unknown columns: {', '.join(unknown)}.")
    if preview.file_errors:
        preview.file_errors.append(
            f"Expected the header: {','.join(REQUIRED_COLUMNS + OPTIONAL_COLUMNS)} "
            "(teams and teams_enabled are optional)."
        )
        return preview
    reader.fieldnames = header
    for count, raw in enumerate(reader, start=1):
        if count > MAX_ROWS:
            preview.file_errors.append(f"More than {MAX_ROWS} rows; split the file.")
            return preview
        values = {k: (v or "").strip() for k, v in raw.items() if k}
        if not any(values.values()):
            continue
        # The reader's line, not a record count: DictReader skips blank lines silently.
        preview.rows.append(_row(reader.line_num, values))
    if not preview.rows:
        preview.file_errors.append("The file has no agent rows.")
    _check_across_rows(preview)
    return preview


def _row(line: int, values: dict[str, str]) -> CsvRow:
    row = CsvRow(line=line, values=values)
    if not values.get("external_id"):
        row.errors.append("external_id is empty.")
    if not values.get("name"):
        row.errors.append("name is empty.")
    if not values.get("business_unit"):
        row.errors.append("business_unit is empty.")
    for column, value in values.items():
        if "\x00" in value:  # PostgreSQL cannot store it
            row.errors.append(f"{column} contains a NUL character.")
    for column, limit in MAX_LENGTHS.items():
        if len(values.get(column, "")) > limit:
            row.errors.append(f"{column} is longer than {limit} characters.")
    email = values.get("email", "")
    if email:
        try:
            validate_email(email)
        except ValidationError:
            row.errors.append(f"email {email!r} is not a valid address.")
    enabled_text = values.get("teams_enabled", "").lower()
    enabled = None
    if enabled_text in TRUE_WORDS:
        enabled = True
    elif enabled_text in FALSE_WORDS:
        enabled = False
    elif enabled_text:
        row.errors.append(f"teams_enabled {enabled_text!r} is not yes or no.")
    teams = tuple(t.strip() for t in values.get("teams", "").split(";") if t.strip())
    if any(len(team) > MAX_TEAM_LENGTH for team in teams):
        row.errors.append(f"A team name is longer than {MAX_TEAM_LENGTH} characters.")
    if not row.errors:
        row.agent = AgentInput(
            external_id=values["external_id"],
            name=values["name"],
            email=email,
            business_unit=values["business_unit"],
            teams=teams if "teams" in values else None,
            teams_enabled=enabled,
        )
    return row


def _check_across_rows(preview: CsvPreview) -> None:
    seen: dict[str, int] = {}
    for row in preview.rows:
        external_id = row.values.get("external_id", "")
        if external_id in seen:
            row.errors.append(f"external_id {external_id!r} repeats line {seen[external_id]}.")
            row.agent = None
        elif external_id:
            seen[external_id] = row.line
    codes = (row.values.get("business_unit", "") for row in preview.rows)
    unknown = unknown_business_units(code for code in codes if code and "\x00" not in code)
    for row in preview.rows:
        if row.values.get("business_unit") in unknown:
            row.errors.append(f"business_unit {row.values['business_unit']!r} does not exist.")
            row.agent = None
