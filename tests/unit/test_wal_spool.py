"""The WAL archiver's and restore queue's decisions: order, acks, manifest check, prefetch window."""

import hashlib

import pytest

from recovery.wal.spool import (
    ack_reason,
    ack_record,
    manifest_reason,
    next_uploads,
    prefetch_window,
    ready_names,
    replay_position,
    restore_command,
    stale,
)

pytestmark = pytest.mark.unit

SEG = "0000000100000000000000{:02X}".format
MiB = 1024 * 1024


def test_ready_files_oldest_first_history_before_segments_other_files_ignored() -> None:
    status = [f"{SEG(3)}.ready", f"{SEG(1)}.ready", "00000002.history.ready", f"{SEG(2)}.done", "junk"]
    assert ready_names(status) == ["00000002.history", SEG(1), SEG(3)]


def test_next_uploads_skip_in_flight_and_acknowledged_within_the_free_slots() -> None:
    ready = [SEG(n) for n in range(1, 7)]
    assert next_uploads(ready, in_flight=[SEG(1)], acked=[SEG(2)], slots=3) == [SEG(3), SEG(4), SEG(5)]
    assert next_uploads(ready, in_flight=[], acked=[], slots=0) == []


def test_an_ack_confirms_only_the_same_bytes() -> None:
    data = b"segment"
    digest = hashlib.sha256(data).hexdigest()
    record = ack_record(digest, len(data))
    assert ack_reason(record, digest, len(data)) is None
    assert "other content" in (ack_reason(record, hashlib.sha256(b"other").hexdigest(), len(data)) or "")
    assert "other content" in (ack_reason(record, digest, len(data) + 1) or "")
    assert ack_reason("{not json", digest, len(data)) == "the ack is unreadable"


def test_manifest_check_refuses_a_mismatch_and_a_missing_entry() -> None:
    actual = hashlib.sha256(b"x").hexdigest()
    assert manifest_reason(SEG(1), actual.upper(), actual) is None
    assert "is corrupt" in (manifest_reason(SEG(1), hashlib.sha256(b"y").hexdigest(), actual) or "")
    assert "no SHA-256" in (manifest_reason(SEG(1), None, actual) or "")


def test_prefetch_window_follows_the_last_served_segment_within_the_budget() -> None:
    assert prefetch_window(None, []) == []
    assert prefetch_window(SEG(4), [], budget=3 * 16 * MiB) == [SEG(5), SEG(6), SEG(7)]
    assert prefetch_window(SEG(4), [SEG(5), SEG(6)], budget=3 * 16 * MiB) == [SEG(7)]
    assert prefetch_window(SEG(4), [SEG(5), SEG(6), SEG(7)], budget=3 * 16 * MiB) == []
    assert prefetch_window("00000002.history", []) == []  # not a segment: its place is unknown
    # the next log file: segment FF of log 0 is followed by segment 00 of log 1
    assert prefetch_window("0000000100000000000000FF", [], budget=16 * MiB) == ["000000010000000100000000"]


def test_stale_are_the_served_and_older_segments_of_the_same_timeline() -> None:
    queued = [SEG(3), SEG(4), SEG(5), "000000020000000000000001"]
    assert stale(queued, SEG(4)) == [SEG(3), SEG(4)]
    assert stale(queued, None) == []


def test_replay_is_placed_by_what_it_asks_for_before_it_has_taken_anything() -> None:
    """The first request starts the window (it waited for a first `served`: one segment's
    download alone, then the next ones); a new restore is placed by its request, not by the
    `served` an earlier restore on the queue left further along."""
    assert replay_position(None, [SEG(6)]) == SEG(6)
    assert prefetch_window(replay_position(None, [SEG(6)]), [SEG(6)], budget=2 * 16 * MiB) == [SEG(7), SEG(8)]
    assert replay_position(SEG(0x20), [SEG(6)]) == SEG(6)
    assert replay_position(SEG(6), []) == SEG(6)
    assert replay_position(SEG(6), ["00000002.history"]) == SEG(6)  # a history file has no place
    assert replay_position(None, []) is None


def test_restore_command_renames_a_queued_file_and_falls_back_to_the_python_client() -> None:
    command = restore_command("/opt/py thon", "/srv/inv.json")
    take, _, ask = command.partition(" || ")
    assert take.startswith("{ mv -f /srv/crmdr-wal-queue/ready/%f %p 2>/dev/null && ") and "cp " not in take
    assert ask == "'/opt/py thon' -m recovery.wal_fetch --inventory /srv/inv.json --queue /srv/crmdr-wal-queue %f %p"
