"""Restore's and prune's rules for the streamed partial segments (`wal-partial/`)."""

import hashlib
from datetime import UTC, datetime, timedelta

import pytest

from recovery.wal.partials import (
    Chunk,
    StreamedPartial,
    chunk_reason,
    lock_limitation,
    padded,
    parse_chunk,
    removable,
    replay_evidence,
    replay_note,
    restorable,
    serve_refusal,
)
from recovery.wal.segments import SEGMENT_SIZE
from recovery.wal.streaming import chunk_key

pytestmark = pytest.mark.unit

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
S5, S6, S7 = "000000010000000000000005", "000000010000000000000006", "000000010000000000000007"


def chunks(segment: str, *spans: tuple[int, int], at: datetime = NOW) -> list[Chunk]:
    found = [parse_chunk(chunk_key(f"{segment}.partial", start), size, at) for start, size in spans]
    assert all(found)
    return [c for c in found if c is not None]


def test_chunk_keys_parse_and_other_keys_do_not() -> None:
    assert parse_chunk(f"wal-partial/{S6}.partial/00002000", 10) == Chunk(
        f"wal-partial/{S6}.partial/00002000", S6, 0x2000, 10)
    for key in (f"wal/{S6}", f"wal-partial/{S6}/00000000", f"wal-partial/{S6}.partial/0000", "wal-partial/x.partial/"
                "00000000", f"wal-partial/{S6}.partial/0000000g"):
        assert parse_chunk(key, 1) is None, key


def test_the_complete_segment_in_wal_wins_over_its_partial() -> None:
    assert serve_refusal(S6, [S5]) is None
    reason = serve_refusal(S6, [S5, S6])
    assert reason == f"wal/{S6} is archived: the complete segment wins over its streamed partial"


def test_a_partial_older_than_a_completed_segment_on_its_timeline_is_stale() -> None:
    reason = serve_refusal(S6, [S5, S7])
    assert reason is not None and "stale" in reason and f"wal/{S7}" in reason
    assert serve_refusal(S6, [S5, "000000020000000000000003"]) is None  # another timeline's older segment
    forked = serve_refusal(S6, [S5, "00000002.history"])
    assert forked is not None and "stale" in forked and "00000002.history" in forked
    assert serve_refusal("000000020000000000000006", [S5, "00000002.history"]) is None  # its own history


def test_history_files_never_come_from_a_partial() -> None:
    reason = serve_refusal("00000002.history", [])
    assert reason is not None and "history" in reason


def test_a_chunk_is_served_only_when_its_sha256_matches_its_metadata() -> None:
    (chunk,), data = chunks(S6, (0, 9)), b"wal bytes"
    digest = hashlib.sha256(data).hexdigest()
    assert chunk_reason(chunk, digest, digest) is None
    assert chunk_reason(chunk, digest.upper(), digest) is None
    wrong = chunk_reason(chunk, digest, hashlib.sha256(b"other").hexdigest())
    assert wrong is not None and wrong.startswith(f"{chunk.key} is corrupt")
    missing = chunk_reason(chunk, None, digest)
    assert missing is not None and missing.startswith(f"{chunk.key} has no SHA-256")


def test_padding_makes_a_whole_segment_and_refuses_more_than_one() -> None:
    body = b"\x01" * 100
    whole = padded(body)
    assert len(whole) == SEGMENT_SIZE and whole[:100] == body and not whole[100:].strip(b"\0")
    with pytest.raises(ValueError, match="more than a segment"):
        padded(bytes(SEGMENT_SIZE + 1))


def test_the_restorable_partial_continues_the_newest_archived_segment_and_is_not_stale() -> None:
    later = NOW + timedelta(seconds=5)
    stored = [*chunks(S6, (0, 0x2000)), *chunks(S6, (0x2000, 4096), at=later)]
    assert restorable([S5], stored) == StreamedPartial(S6, 0x2000 + 4096, 2, later)
    assert restorable([S5, S6], stored) is None  # archived whole
    assert restorable(["000000010000000000000004"], stored) is None  # a hole before it: never asked for
    assert restorable([S5, "00000002.history"], stored) is None  # the timeline forked
    assert restorable([], stored) is None


def test_replay_evidence_says_how_far_replay_went_into_the_partial() -> None:
    partial = StreamedPartial(S6, 20000, 3, NOW)
    into = replay_evidence(partial, S5, "0/6004E20", archived_now=False)
    assert into == {"segment": S6, "received_bytes": 20000, "chunks": 3, "after_archived": S5, "replayed": True,
                    "replayed_to_byte": 0x4E20}
    assert "replayed to byte 20000 of it (20000 bytes received)" in replay_note(into)
    before = replay_evidence(partial, S5, "0/5FFFF00", archived_now=False)
    assert before["replayed"] is False and "not replayed" in replay_note(before)
    assert replay_evidence(partial, S5, "0/6004E20", archived_now=True)["replayed"] is False  # wal/ had it


def test_prune_removes_partials_archived_whole_or_older_than_every_kept_point() -> None:
    stored = [*chunks("000000010000000000000002", (0, 10)), *chunks(S5, (0, 10), (0x2000, 10)),
              *chunks(S6, (0, 10))]
    assert removable(stored, [S5], oldest_start=3) == {
        "000000010000000000000002": "older than the WAL start of every kept recovery point",
        S5: f"wal/{S5} is archived whole"}
    assert removable(stored, [], oldest_start=None) == {}  # no point: nothing says what is needed
    assert removable(stored, [S6], oldest_start=2) == {S6: f"wal/{S6} is archived whole"}


def test_a_partial_with_a_locked_chunk_stays_whole_until_its_last_lock() -> None:
    assert lock_limitation([NOW - timedelta(days=1), None], NOW) is None
    reason = lock_limitation([NOW - timedelta(days=1), NOW + timedelta(days=2), NOW + timedelta(days=1)], NOW)
    assert reason == "locked until 2026-12-05T12:00:00+00:00: Object Lock retains its chunks"
