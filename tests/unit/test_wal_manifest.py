"""WAL names and chain gaps; manifest sealing and identity checks. Pure."""

from datetime import UTC, datetime

import pytest

from policies.errors import VerificationFailed
from recovery.backups.manifest import (
    ClusterIdentity,
    ObjectEntry,
    RecoveryPoint,
    identity_reasons,
    parse_manifest,
    seal,
    to_bytes,
)
from recovery.wal.segments import Segment, chain, parse_segment, segment_of, timeline_reasons

pytestmark = pytest.mark.unit

T0 = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def _point(**changes: object) -> RecoveryPoint:
    base = RecoveryPoint(
        id="20261124T120000Z-physical", kind="physical", stack="lab", tool_version="0.1.0",
        started_at=T0, finished_at=T0, start_lsn="0/2000028", stop_lsn="0/2000100",
        cluster=ClusterIdentity(system_identifier="7311", pg_version=150004, timeline=1),
        objects=[ObjectEntry(key="points/x/base.tar", size=3, sha256="a" * 64)], kms_key_id="k",
    )
    return seal(base.model_copy(update=changes))


def test_segment_names_round_trip() -> None:
    segment = parse_segment("0000000200000001000000FF")
    assert segment == Segment(2, 0x1FF)
    assert segment.name() == "0000000200000001000000FF"
    assert parse_segment("00000002.history") is None
    assert segment_of("1/FF000028", 2) == segment


def test_chain_reports_each_missing_segment() -> None:
    names = ["000000010000000000000002", "000000010000000000000003", "000000010000000000000006",
             "00000001000000000000000?", "000000010000000000000002.00000028.backup"]

    found = chain(names, since=Segment(1, 2))

    assert found.count == 3
    assert found.gaps == ("000000010000000000000004", "000000010000000000000005")
    assert chain(names, since=Segment(1, 1)).gaps[0] == "000000010000000000000001"


def test_chain_continues_across_a_timeline_switch() -> None:
    names = ["000000010000000000000002", "000000010000000000000003", "000000020000000000000003",
             "000000020000000000000004"]
    assert chain(names, since=Segment(1, 2)).gaps == ()


def test_sealed_manifest_round_trips_and_detects_edits() -> None:
    point = _point()
    assert parse_manifest(to_bytes(point), "m") == point

    edited = to_bytes(point).replace(b'"size": 3', b'"size": 4')
    with pytest.raises(VerificationFailed, match="manifest m was modified"):
        parse_manifest(edited, "m")
    with pytest.raises(VerificationFailed, match="manifest m is not a valid manifest"):
        parse_manifest(b"{}", "m")


def test_identity_mismatches_are_named() -> None:
    point = _point()
    same = ClusterIdentity(system_identifier="7311", pg_version=150007, timeline=3)
    other = ClusterIdentity(system_identifier="9999", pg_version=160001, timeline=1)

    assert identity_reasons(point, same) == []
    reasons = identity_reasons(point, other)
    assert "another cluster (system identifier 7311, expected 9999)" in reasons[0]
    assert "PostgreSQL 15, expected 16" in reasons[1]


def test_a_new_timeline_needs_its_history_file() -> None:
    names = ["000000010000000000000003", "000000020000000000000003"]
    assert timeline_reasons(names, 1) == [
        "WAL timeline 2 has segments but no history file wal/00000002.history"]
    assert timeline_reasons([*names, "00000002.history"], 1) == []
