"""Pure comparisons of recovery/backups/validation.py: each difference is its own reason."""

import pytest

from recovery.backups.validation import (
    TableDigest,
    compare_digests,
    digest_method,
    digest_sql,
    digest_tables,
    invariant_reasons,
    recorded_methods,
)

pytestmark = pytest.mark.unit

POINT = {"accounts": TableDigest(rows=3, checksum="10"), "contacts": TableDigest(rows=9, checksum="20")}


def test_identical_digests_give_no_reason() -> None:
    assert compare_digests(POINT, dict(POINT)) == []


def test_each_difference_is_named() -> None:
    restored = {"accounts": TableDigest(rows=2, checksum="7"), "contacts": TableDigest(rows=9, checksum="21"),
                "extra": TableDigest(rows=0, checksum="0")}

    assert compare_digests(POINT, restored) == [
        "table accounts has 2 rows, the recovery point recorded 3",
        "table contacts content checksum differs from the recovery point's (21 != 20)",
        "table extra exists after restore but not in the recovery point",
    ]
    assert compare_digests(POINT, {"accounts": POINT["accounts"]}) == [
        "table contacts is missing after restore"]


def test_invariants_only_report_violations() -> None:
    assert invariant_reasons({"a exists": 0, "b exists": 2}) == [
        "CRM invariant broken: b exists (2 rows violate it)"]


def test_probe_table_is_not_digested_and_names_are_quoted() -> None:
    assert digest_tables(["contacts", "crmdr_probe", "accounts"]) == ["accounts", "contacts"]
    assert 'FROM "we""ird" AS t' in digest_sql('we"ird')


def test_unstable_tables_are_neither_compared_nor_extra() -> None:
    restored = {**POINT, "activities": TableDigest(rows=5, checksum="1")}
    assert compare_digests(POINT, restored, unstable=["activities"]) == []


def test_each_method_has_its_row_hash_and_text_is_the_old_sql() -> None:
    assert digest_sql("accounts") == digest_sql("accounts", "text") == (
        'SELECT count(*), coalesce(sum(hashtextextended(t::text, 0)), 0)::text FROM "accounts" AS t')
    assert digest_sql("accounts", "record") == (
        'SELECT count(*), coalesce(sum(hash_record_extended(t, 0)), 0)::text FROM "accounts" AS t')


@pytest.mark.parametrize(("version", "unhashable", "method"), [
    (150004, [], "record"),
    (140000, [], "record"),
    (130012, [], "text"),  # no hash_record_extended before 14
    (150004, ["json"], "text"),
    (150004, ["point", "xml"], "text"),
])
def test_record_only_where_it_cannot_raise(version: int, unhashable: list[str], method: str) -> None:
    assert digest_method(version, unhashable) == method


def test_a_digest_without_method_is_text() -> None:
    assert TableDigest.model_validate({"rows": 1, "checksum": "5"}).method == "text"


def test_verify_uses_the_recorded_method_and_names_what_it_cannot_compute() -> None:
    expected = {"accounts": TableDigest(rows=3, checksum="1", method="record"),
                "events": TableDigest(rows=2, checksum="2", method="record"),
                "notes": TableDigest(rows=1, checksum="3")}

    methods, impossible = recorded_methods(expected, 150004, {"events": ["json"], "notes": ["json"]})

    assert methods == {"accounts": "record", "notes": "text"}
    assert impossible == {"events": "table events cannot be digested as the recovery point was (record): "
                                    "column types json have no extended hash function"}
    assert recorded_methods(expected, 130012, {})[1]["accounts"].endswith(
        "server version 130012 has no hash_record_extended")


def test_a_digest_of_another_method_is_named_not_compared() -> None:
    restored = {"accounts": TableDigest(rows=3, checksum="99", method="record"), "contacts": POINT["contacts"]}
    assert compare_digests(POINT, restored) == [
        "table accounts was digested with the record method, the recovery point with text"]
