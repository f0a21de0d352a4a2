"""Properties of the intake's rules: any text a customer types comes back escaped and intact;
every request lands in exactly one list of a replay plan; CSV export never starts a formula."""

import csv
import html
import io
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from outage.adapters.intake_pages import form_page
from outage.intake.csvio import FORMULA_START, export_csv
from outage.intake.model import IntakeRequest, reference_for, request_id_for, validate_fields
from outage.intake.replay import Contact, CrmSnapshot, plan_replay
from policies.intake import load_intake_schema

pytestmark = pytest.mark.unit
SCHEMA = load_intake_schema()
TEXT = st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=300)


@settings(max_examples=150, deadline=None)
@given(TEXT)
def test_any_description_is_shown_escaped_and_intact(text: str) -> None:
    page = form_page(SCHEMA, "en", "token-123456", values={"description": text}, errors={"name": "x"})
    shown = re.search(r'<textarea id="f-description"[^>]*>(.*?)</textarea>', page, re.S)
    assert shown is not None
    assert html.unescape(shown.group(1)) == text
    assert "<" not in shown.group(1) and ">" not in shown.group(1)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.text(max_size=40), min_size=1, max_size=5))
def test_csv_export_cells_never_start_a_formula(cells: list[str]) -> None:
    out = export_csv([f"c{i}" for i in range(len(cells))], [{f"c{i}": c for i, c in enumerate(cells)}])
    [_, row] = list(csv.reader(io.StringIO(out, newline="")))
    assert not any(cell.startswith(FORMULA_START) for cell in row)
    assert [cell[1:] if cell != c else cell for cell, c in zip(row, cells, strict=True)] == cells


REQUESTS = st.lists(st.tuples(st.sampled_from(["", "1", "2", "99", "ACC-2"]),
                              st.sampled_from(["a@example.com", "b@example.com", "z@example.org"]),
                              st.booleans()), min_size=0, max_size=12)


@settings(max_examples=150, deadline=None)
@given(REQUESTS)
def test_every_request_lands_in_exactly_one_list(spec: list[tuple[str, str, bool]]) -> None:
    from datetime import UTC, datetime

    requests, entered = [], {}
    for index, (number, email, done) in enumerate(spec):
        fields, _ = validate_fields({"name": "N", "email": email, "account_number": number, "request_type": "order",
                                     "priority": "low", "description": "d", "consent": True}, SCHEMA)
        assert fields is not None
        rid = request_id_for(f"property-{index:04d}")
        requests.append(IntakeRequest(request_id=rid, reference=reference_for(rid), channel="paper", language="en",
                                      submitted_at=datetime(2026, 12, 2, tzinfo=UTC), fields=fields))
        if done:
            entered[rid] = index
    crm = CrmSnapshot(frozenset({1, 2}), {"a@example.com": Contact(10, 1)}, {1: 10}, entered)
    plan = plan_replay(requests, crm, SCHEMA)
    placed = [e.request_id for e in plan.entries] + [a.request_id for a in plan.already] + \
        [r.request_id for r in plan.review]
    assert sorted(placed) == sorted(r.request_id for r in requests)
    assert {a.request_id for a in plan.already} == set(entered)
