"""The intake's pure rules: validation (en/de), ids and references, CSV import and export,
replay planning, purge decisions, rate limit and language choice."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from outage.intake.csvio import export_csv, neutralise, parse_paper_csv
from outage.intake.model import (
    IntakeRequest,
    RequestFields,
    RequestRecord,
    reference_for,
    request_id_for,
    validate_fields,
)
from outage.intake.notices import acknowledgement
from outage.intake.purge import due_for_purge, purge_reason
from outage.intake.replay import Contact, CrmSnapshot, account_number, plan_replay
from outage.intake.web_rules import RateLimiter, pick_language
from policies.errors import ConfigError
from policies.intake import load_intake_schema
from tests.unit.test_architecture import ROOT, violations

pytestmark = pytest.mark.unit
SCHEMA = load_intake_schema()
NOW = datetime(2026, 12, 2, 8, 0, tzinfo=UTC)
GOOD = {"name": "Ada", "email": "Ada@Example.com", "account_number": "", "phone": "", "request_type": "case",
        "priority": "high", "description": "Broken", "consent": True}
HEADER = "name,email,account_number,phone,request_type,priority,description,consent\n"


def request(**fields: object) -> IntakeRequest:
    data, errors = validate_fields({**GOOD, **fields}, SCHEMA)
    assert data is not None, errors
    rid = request_id_for(f"token-{sorted(fields.items())}")
    return IntakeRequest(request_id=rid, reference=reference_for(rid), channel="api", language="en",
                         submitted_at=NOW, fields=data)


def test_intake_modules_are_pure() -> None:
    pure = [p for p in (ROOT / "outage" / "intake").glob("*.py") if p.name != "service.py"]
    assert len(pure) >= 7
    web = {"fastapi", "uvicorn", "starlette", "httpx", "mangum", "jinja2"}
    found = [v for p in pure for v in violations(p)]
    found += [f"{p.name} imports {line.split()[1]}" for p in pure for line in p.read_text().splitlines()
              if line.startswith(("import ", "from ")) and line.split()[1].split(".")[0] in web]
    assert found == []


def test_a_valid_request_is_normalised() -> None:
    fields, errors = validate_fields(GOOD, SCHEMA)
    assert errors == [] and fields is not None
    assert fields.email == "ada@example.com" and fields.consent is True


@pytest.mark.parametrize(("changes", "field", "english", "german"), [
    ({"name": " "}, "name", "Your name is required.", "Ihr Name ist erforderlich."),
    ({"email": "ada at example"}, "email", "E-mail address: please enter an address such as name@example.com.",
     "E-Mail-Adresse: bitte eine Adresse wie name@example.com angeben."),
    ({"description": "x" * 4001}, "description", "Your request must be at most 4000 characters.",
     "Ihr Anliegen darf höchstens 4000 Zeichen lang sein."),
    ({"request_type": "refund"}, "request_type", "What do you need? must be one of: case, callback, order, other.",
     "Worum geht es? muss einer dieser Werte sein: case, callback, order, other."),
    ({"consent": False}, "consent", "Please agree to the storage of your details, or call us instead.",
     "Bitte stimmen Sie der Speicherung Ihrer Angaben zu, oder rufen Sie uns an."),
    ({"name": "Ada\x00"}, "name", "Your name contains control characters.", "Ihr Name enthält Steuerzeichen."),
    ({"phone": "call me maybe"}, "phone", "Phone may contain only digits, spaces and + ( ) . / -.",
     "Telefon darf nur Ziffern, Leerzeichen und + ( ) . / - enthalten."),
    ({"account_number": "12;DROP"}, "account_number",
     "Account or customer number may contain only letters, digits and hyphens.",
     "Konto- oder Kundennummer darf nur Buchstaben, Ziffern und Bindestriche enthalten."),
    ({"is_admin": "1"}, "is_admin", "'is_admin' is not a field of this form.",
     "'is_admin' ist kein Feld dieses Formulars."),
])
def test_each_problem_is_named_in_english_and_german(changes: dict[str, object], field: str, english: str,
                                                      german: str) -> None:
    fields, errors = validate_fields({**GOOD, **changes}, SCHEMA)
    assert fields is None and [e.field for e in errors] == [field]
    assert errors[0].message("en") == english and errors[0].message("de") == german


def test_html_is_kept_as_text() -> None:
    fields, _ = validate_fields({**GOOD, "description": "<script>alert(1)</script>"}, SCHEMA)
    assert fields is not None and fields.description == "<script>alert(1)</script>"


def test_the_same_token_is_the_same_request_and_reference() -> None:
    assert request_id_for("client-token-1") == request_id_for("client-token-1")
    assert request_id_for("client-token-1") != request_id_for("client-token-2")
    ref = reference_for(request_id_for("client-token-1"))
    assert ref == reference_for(request_id_for("client-token-1"))
    assert len(ref) == 12 and ref.startswith("DT-") and not set(ref) & set("ILOU")
    refs = {reference_for(request_id_for(f"t-{i}")) for i in range(20000)}
    assert len(refs) == 20000, "40-bit references do not collide at outage volumes"


def test_csv_rows_are_validated_like_the_form() -> None:
    data = (HEADER + "Ada,ada@example.com,42,,case,high,\"two\nlines\",ja\nBob,bob@example.com,,,order,low,x,yes\n")
    rows = parse_paper_csv("forms.csv", data.encode(), SCHEMA)
    assert [r.line for r in rows] == [2, 4] and rows[0].fields.description == "two\nlines"
    assert rows[0].token() == parse_paper_csv("forms.csv", data.encode(), SCHEMA)[0].token()


@pytest.mark.parametrize(("data", "message"), [
    (HEADER + "Ada,ada@example.com,,,case,high,x,ja\nBob,bad,,,case,high,x,ja\n",
     "forms.csv: line 3, column 'email': E-mail address: please enter an address such as name@example.com."),
    ("name,mail\n", "forms.csv: line 1, column 2 'mail': not a column of the intake schema"),
    ("name,email\n", "forms.csv: line 1: column 'request_type' is missing (required)"),
    (HEADER + "Ada,ada@example.com,,,case\n", "forms.csv: line 2: expected 8 columns, got 5"),
    (HEADER.strip() + ",submitted_at\nAda,ada@example.com,,,case,high,x,ja,yesterday\n",
     "forms.csv: line 2, column 'submitted_at': expected an ISO 8601 time"),
    ("", "forms.csv: line 1: expected a header row"),
])
def test_a_bad_csv_names_line_and_column(data: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_paper_csv("forms.csv", data.encode(), SCHEMA)
    assert str(caught.value).startswith(message) and "nothing was stored" in str(caught.value).lower()


def test_a_csv_that_is_not_utf8_is_refused() -> None:
    with pytest.raises(ConfigError, match="line 2: not UTF-8"):
        parse_paper_csv("forms.csv", (HEADER + "J\xf6rg,a@b.de,,,case,high,x,ja\n").encode("latin-1"), SCHEMA)


@pytest.mark.parametrize("cell", ["=HYPERLINK(\"http://evil\")", "+1+1", "-2+3", "@SUM(A1)", "\tx", "\rx"])
def test_csv_export_neutralises_formulas(cell: str) -> None:
    assert neutralise(cell) == "'" + cell
    out = export_csv(["description"], [{"description": cell}])
    assert out.splitlines()[1].startswith("\"'")


def test_plain_cells_are_exported_as_they_are() -> None:
    assert neutralise("Order 42") == "Order 42" and neutralise(None) == ""


def snapshot(**kwargs: object) -> CrmSnapshot:
    base: dict[str, object] = {"accounts": frozenset({1, 2}), "contacts_by_email": {
        "ada@example.com": Contact(10, 1)}, "first_contact": {1: 10, 2: 20}, "entered": {}}
    return CrmSnapshot(**{**base, **kwargs})  # type: ignore[arg-type]


def test_replay_matches_by_account_number_or_email_and_reviews_the_rest() -> None:
    by_email = request()
    by_number = request(email="stranger@example.org", account_number="2")
    both = request(account_number="ACC-0001")
    nobody = request(email="stranger@example.org", account_number="99")
    done = request(description="already there")
    plan = plan_replay([by_email, by_number, both, nobody, done],
                       snapshot(entered={done.request_id: 77}), SCHEMA)
    entries = {e.request_id: e for e in plan.entries}
    assert (entries[by_email.request_id].account_id, entries[by_email.request_id].contact_id) == (1, 10)
    assert (entries[by_number.request_id].account_id, entries[by_number.request_id].contact_id) == (2, 20)
    assert entries[both.request_id].matched_by == "account number and e-mail"
    assert [(r.request_id, r.reason) for r in plan.review] == [
        (nobody.request_id, "no account with the given number and no contact with the given e-mail")]
    assert [(a.request_id, a.case_id) for a in plan.already] == [(done.request_id, 77)]
    assert entries[by_email.request_id].priority == 2 and by_email.reference in entries[by_email.request_id].subject
    assert "stranger" not in plan.review[0].reason, "review reasons hold no personal data"


def test_an_account_without_contacts_goes_to_review() -> None:
    plan = plan_replay([request(email="x@example.org", account_number="2")],
                       snapshot(first_contact={1: 10}), SCHEMA)
    assert plan.entries == [] and plan.review[0].reason == "account 2 has no contact to attach a case to"


def test_account_numbers() -> None:
    assert [account_number(t) for t in ("42", "0042", "ACC-0042", "acc-7", "A42", "", "9" * 30)] == \
        [42, 42, 42, 7, None, None, None]


def record(state: str, entered: datetime | None) -> RequestRecord:
    return RequestRecord(request_id=f"id-{state}", reference="DT-0000-0000", channel="web", language="en",
                         submitted_at=NOW, request_type="case", priority="normal", state=state,  # type: ignore[arg-type]
                         case_id=5 if entered else None, entered_at=entered)


def test_personal_data_is_purged_only_after_entry_and_the_delay() -> None:
    week = timedelta(days=7)
    assert purge_reason(record("acknowledged", NOW - timedelta(days=8)), week, NOW)
    assert purge_reason(record("acknowledged", NOW - timedelta(days=6)), week, NOW) is None
    assert purge_reason(record("review", None), week, NOW) is None
    assert purge_reason(record("stored", None), timedelta(0), NOW) is None
    assert due_for_purge([record("entered", NOW), record("review", None)], timedelta(0), NOW) == ["id-entered"]


def test_the_acknowledgement_is_in_the_customers_language() -> None:
    german = acknowledgement(request().model_copy(update={"language": "de"}), 314)
    assert german.subject.endswith("ist jetzt Fall 314") and "Guten Tag Ada" in german.body
    english = acknowledgement(request(), 314)
    assert english.subject.endswith("is now case 314") and english.to == "ada@example.com"


def test_rate_limit_per_client() -> None:
    limiter = RateLimiter(per_minute=6, burst=2)
    assert limiter.retry_after("a", 0.0) is None and limiter.retry_after("a", 0.1) is None
    wait = limiter.retry_after("a", 0.2)
    assert wait is not None and 9 < wait < 10
    assert limiter.retry_after("b", 0.2) is None
    assert limiter.retry_after("a", 10.5) is None


@pytest.mark.parametrize(("explicit", "header", "expected"), [
    (None, "de-DE,de;q=0.9,en;q=0.8", "de"), (None, "en-US,de;q=0.5", "en"), (None, "fr-FR,de;q=0.3", "de"),
    (None, None, "en"), ("de", "en", "de"), ("xx", "de", "de"), (None, "de;q=0, en;q=0.1", "en"),
])
def test_language(explicit: str | None, header: str | None, expected: str) -> None:
    assert pick_language(explicit, header) == expected


def test_the_schema_file_is_the_one_source(tmp_path: Path) -> None:
    bad = tmp_path / "intake.yaml"
    bad.write_text("version: 1\nfields:\n  - name: name\n    kind: text\n    label: {en: Name}\n")
    with pytest.raises(ConfigError, match=r"intake\.yaml"):
        load_intake_schema(bad)
    assert RequestFields.model_fields.keys() == set(SCHEMA.field_names())
