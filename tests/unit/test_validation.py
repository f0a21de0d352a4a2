"""Pure comparisons of recovery/backups/validation.py: each difference is its own reason."""

import pytest

from recovery.backups.validation import TableDigest, compare_digests, digest_sql, digest_tables, invariant_reasons

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
