"""Paper forms typed in later (CSV import) and spreadsheets handed to people (CSV export). Pure.

Import is all or nothing: the first bad row stops it with one sentence naming the file, the
line and the column, before anything is stored. Export neutralises formula injection: a
cell a spreadsheet would run as a formula (= + - @, tab, CR) is prefixed with a quote.
"""

import csv
import hashlib
import io
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from outage.intake.model import RequestFields, validate_fields
from policies.errors import ConfigError
from policies.intake import LANGUAGES, IntakeSchema, Language

OPTIONAL_COLUMNS = ("submitted_at", "language")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class PaperRow:
    """One validated row: its fields, when the form was filled in (if written), its language."""

    line: int
    fields: RequestFields
    submitted_at: datetime | None
    language: Language

    def token(self) -> str:
        """Identity from the content: importing the same file twice stores each form once."""
        canonical = json.dumps({"fields": self.fields.model_dump(), "submitted_at": self.submitted_at
                                and self.submitted_at.isoformat()}, sort_keys=True)
        return "paper:" + hashlib.sha256(canonical.encode()).hexdigest()[:40]


def _decode(source: str, data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise ConfigError(f"{source}: line {line}: not UTF-8 text; expected a CSV file saved as UTF-8; "
                          "nothing was stored") from None


def _header(source: str, header: Sequence[str] | None, schema: IntakeSchema) -> list[str]:
    if not header:
        raise ConfigError(f"{source}: line 1: expected a header row naming the columns "
                          f"({', '.join(spec.name for spec in schema.fields)}); nothing was stored")
    names = [name.strip() for name in header]
    known = {spec.name for spec in schema.fields} | set(OPTIONAL_COLUMNS)
    for index, name in enumerate(names, start=1):
        if name not in known:
            raise ConfigError(f"{source}: line 1, column {index} '{name}': not a column of the intake schema; "
                              f"expected one of {', '.join(sorted(known))}; nothing was stored")
    if len(set(names)) != len(names):
        raise ConfigError(f"{source}: line 1: a column is named twice; nothing was stored")
    missing = [spec.name for spec in schema.fields if spec.required and spec.name not in names
               and spec.default is None]
    if missing:
        raise ConfigError(f"{source}: line 1: column '{missing[0]}' is missing (required); nothing was stored")
    return names


def _extras(source: str, line: int, row: Mapping[str, str]) -> tuple[datetime | None, Language]:
    when: datetime | None = None
    text = row.get("submitted_at", "").strip()
    if text:
        try:
            when = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            when = None
        if when is None or when.tzinfo is None:
            raise ConfigError(f"{source}: line {line}, column 'submitted_at': expected an ISO 8601 time with a "
                              f"zone such as 2026-12-02T07:30:00Z, got {text[:40]!r}; nothing was stored")
        when = when.astimezone(UTC)
    language = row.get("language", "").strip().lower() or "en"
    if language not in LANGUAGES:
        raise ConfigError(f"{source}: line {line}, column 'language': expected en or de; nothing was stored")
    return when, "de" if language == "de" else "en"


def parse_paper_csv(source: str, data: bytes, schema: IntakeSchema) -> list[PaperRow]:
    """Every row validated by the schema the web form uses; ConfigError (exit 2) on the first bad one."""
    reader = csv.reader(io.StringIO(_decode(source, data), newline=""), strict=True)
    try:
        names = _header(source, next(reader, None), schema)
        rows: list[PaperRow] = []
        start = reader.line_num + 1
        for cells in reader:
            line, start = start, reader.line_num + 1
            if not any(cell.strip() for cell in cells):
                continue
            if len(cells) != len(names):
                raise ConfigError(f"{source}: line {line}: expected {len(names)} columns, got {len(cells)}; "
                                  "nothing was stored")
            row = dict(zip(names, cells, strict=True))
            fields, errors = validate_fields({k: v for k, v in row.items() if k not in OPTIONAL_COLUMNS}, schema)
            if fields is None:
                first = errors[0]
                raise ConfigError(f"{source}: line {line}, column '{first.field}': {first.message('en')} "
                                  "Nothing was stored.")
            rows.append(PaperRow(line, fields, *_extras(source, line, row)))
            if len(rows) > schema.limits.csv_rows:
                raise ConfigError(f"{source}: line {line}: more than {schema.limits.csv_rows} rows; "
                                  "split the file; nothing was stored")
    except csv.Error as err:
        raise ConfigError(f"{source}: line {reader.line_num}: not valid CSV ({err}); nothing was stored") from None
    return rows


def neutralise(cell: object) -> str:
    """A cell no spreadsheet runs as a formula (OWASP: prefix with a single quote)."""
    text = "" if cell is None else str(cell)
    return "'" + text if text.startswith(FORMULA_START) else text


def export_csv(columns: Sequence[str], rows: Iterable[Mapping[str, object]]) -> str:
    """CSV for people: every cell neutralised, every field quoted."""
    out = io.StringIO()
    writer = csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([neutralise(row.get(column)) for column in columns])
    return out.getvalue()
