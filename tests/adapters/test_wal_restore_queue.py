"""The restore queue's file protocol (recovery/wal/restore_queue.py), against its real directories.

The downloader is an in-process stand-in writing fixed bytes: what is under test is when the
queue keeps or drops a file, not S3 (tests/adapters/test_wal_push_fetch.py covers the store).
"""

import time
from pathlib import Path

import pytest

from recovery.wal.fetch import queue_dir
from recovery.wal.restore_queue import RestoreQueue

pytestmark = pytest.mark.adapters

AHEAD = "000000010000000000000020"  # what an earlier restore on this queue served last
WANTED = "000000010000000000000005"


class Bytes:
    def __init__(self) -> None:
        self.fetched: list[str] = []

    def download(self, name: str, target: Path) -> None:
        self.fetched.append(name)
        target.write_bytes(b"wal " + name.encode())


def _until(condition: "type[bool] | object", queue: RestoreQueue, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not condition():  # type: ignore[operator]
        queue.step()
        time.sleep(0.005)


def test_a_requested_segment_is_kept_until_taken_though_an_earlier_restore_served_past_it(tmp_path: Path) -> None:
    """GIVEN `served` left far ahead by an earlier restore, WHEN replay asks for an earlier segment,
    THEN the queue keeps the downloaded file in ready/ until the command takes it (it used to drop
    it as stale, so the command asked twice, gave up and the restore never reached consistency)."""
    queue_path = queue_dir(tmp_path / "inventory.json", None)
    (queue_path / "served").write_text(AHEAD)
    downloader = Bytes()
    queue = RestoreQueue(downloader, queue_path, parallel=2, max_bytes=2 * 16 * 1024 * 1024)  # type: ignore[arg-type]
    (queue_path / "want" / WANTED).write_text(WANTED)

    _until(lambda: not (queue_path / "want" / WANTED).exists(), queue)
    for _ in range(50):
        queue.step()
        time.sleep(0.002)
    queue.pool.shutdown(wait=True)
    queue.step()

    assert (queue_path / "ready" / WANTED).read_bytes() == b"wal " + WANTED.encode()
    assert downloader.fetched.count(WANTED) == 1


def test_a_prefetched_segment_replay_moved_past_is_dropped(tmp_path: Path) -> None:
    """Unasked-for files at or before the last served segment are removed (the budget is for what comes next)."""
    queue_path = queue_dir(tmp_path / "inventory.json", None)
    (queue_path / "ready" / WANTED).write_bytes(b"old")
    (queue_path / "served").write_text(AHEAD)
    queue = RestoreQueue(Bytes(), queue_path, parallel=1, max_bytes=16 * 1024 * 1024)  # type: ignore[arg-type]

    queue.step()
    queue.pool.shutdown(wait=True)

    assert not (queue_path / "ready" / WANTED).exists()
