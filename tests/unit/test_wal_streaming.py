"""The WAL streamer's decisions: which received files are complete, the partial's received part, cadence."""

import pytest

from recovery.wal.streaming import (
    WAL_PAGE,
    assemble,
    backoff,
    chunk_key,
    chunk_start,
    completed,
    last_message,
    newest_partial,
    partial_due,
    pick_primary,
    written_length,
)

pytestmark = pytest.mark.unit

SEG = "000000010000000000000003"


def test_completed_takes_segments_and_history_first_never_partials_or_logs() -> None:
    names = [f"{SEG}.partial", "000000010000000000000002", "00000002.history", "000000010000000000000001",
             "pg_receivewal.log", ".tmp"]
    assert completed(names) == ["00000002.history", "000000010000000000000001", "000000010000000000000002"]


def test_newest_partial_is_the_highest_segment_and_ignores_other_names() -> None:
    assert newest_partial(["000000010000000000000002.partial", f"{SEG}.partial", "x.partial", SEG]) == \
        f"{SEG}.partial"
    assert newest_partial([SEG, "x.partial"]) is None
    assert chunk_key(f"{SEG}.partial", 3 * WAL_PAGE) == f"wal-partial/{SEG}.partial/00006000"


def test_written_length_keeps_every_page_holding_data_and_drops_trailing_zero_pages() -> None:
    size = 16 * WAL_PAGE
    assert written_length(bytes(size)) == 0
    data = bytearray(size)
    data[0] = 1
    data[3 * WAL_PAGE + 10] = 7  # a record ending in zeros inside page 3 keeps the whole page
    assert written_length(bytes(data)) == 4 * WAL_PAGE
    data[-1] = 1
    assert written_length(bytes(data)) == size


def test_partial_is_looked_at_first_at_once_then_every_period() -> None:
    assert partial_due(100.0, None, 1.0)
    assert not partial_due(100.5, 100.0, 1.0)
    assert partial_due(101.0, 100.0, 1.0)


def test_chunks_resend_the_last_page_and_assemble_to_the_received_bytes() -> None:
    received = bytes(range(256)) * (3 * WAL_PAGE // 256)  # three pages, written in two steps
    first_end = 2 * WAL_PAGE
    first = (chunk_start(0), received[:first_end - 100] + bytes(100))  # page 2 half written when sent
    second = (chunk_start(first_end), received[chunk_start(first_end):])
    assert first[0] == 0 and second[0] == WAL_PAGE
    assert assemble([second, first]) == received


def test_assemble_refuses_a_missing_chunk() -> None:
    with pytest.raises(ValueError, match="gap at offset 8192"):
        assemble([(0, bytes(WAL_PAGE)), (2 * WAL_PAGE, b"x")])


def test_last_message_is_the_last_pg_receivewal_line_with_its_hint_on_one_line() -> None:
    log = ('pg_receivewal: error: connection to server at "10.0.0.1", port 5432 failed: timeout\n'
           'pg_receivewal: error: could not send replication command "CREATE_REPLICATION_SLOT": '
           "ERROR:  all replication slots are in use\nHINT:  Free one or increase max_replication_slots.\n\n")
    assert last_message(log) == ('pg_receivewal: error: could not send replication command "CREATE_REPLICATION_SLOT":'
                                 " ERROR: all replication slots are in use HINT: Free one or increase"
                                 " max_replication_slots.")
    assert last_message("some other tool's line\n") == "some other tool's line"
    assert last_message("") == "" and last_message("\n \n") == ""


def test_the_stream_follows_the_one_node_answering_as_primary() -> None:
    assert pick_primary({"primary": None, "standby": False}) == "standby"  # failed over
    assert pick_primary({"primary": False, "standby": True}) == "primary"
    assert pick_primary({"primary": None, "standby": True}) is None  # mid-failover: wait
    assert pick_primary({"primary": False, "standby": False}) is None  # split brain: not the stream's call


def test_looking_for_the_primary_backs_off_to_a_cap() -> None:
    assert [backoff(n) for n in range(6)] == [0.0, 1.0, 2.0, 4.0, 8.0, 10.0]
