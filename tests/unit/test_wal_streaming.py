"""The WAL streamer's decisions: which received files are complete, the partial's received part, cadence."""

import pytest

from recovery.wal.streaming import WAL_PAGE, completed, newest_partial, partial_due, partial_key, written_length

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
    assert partial_key(f"{SEG}.partial") == f"wal-partial/{SEG}.partial"


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
