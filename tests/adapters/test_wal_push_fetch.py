"""archive_command / restore_command against a moto server (their helpers are other processes).

Idempotent, never overwriting, acknowledged only once stored and locked, a corrupted object
refused by its SHA-256, a killed archiver losing nothing it acknowledged, and the restore
queue keeping what replay asked for.
"""

import contextlib
import hashlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from recovery.adapters.s3_store import S3ObjectStore
from recovery.inventory import Inventory
from recovery.wal import daemon
from recovery.wal import fetch as wal_fetch
from recovery.wal import push as wal_push
from recovery.wal.restore_queue import Downloader, RestoreQueue
from recovery.wal.spool import restore_command
from tests.adapters.conftest import locked_dr_bucket
from tests.conftest import make_inventory

pytestmark = pytest.mark.adapters

SEGMENT = "000000010000000000000007"


@pytest.fixture
def inventory(moto_url: str, tmp_path: Path) -> Iterator[tuple[Inventory, Path]]:
    """The DR bucket (versioned, Object Lock) on a moto server, and an inventory file pointing at it."""
    key_id = locked_dr_bucket(moto_url)
    loaded = make_inventory(**{"backup.kms_key_id": key_id, "aws.endpoint_url": moto_url})
    path = tmp_path / "inventory.json"
    path.write_text(loaded.to_json())
    yield loaded, path
    for spool in (tmp_path / wal_push.SPOOL, tmp_path / wal_fetch.QUEUE):
        _kill_helper(spool)


def _kill_helper(spool: Path) -> None:
    with contextlib.suppress(FileNotFoundError, ValueError, ProcessLookupError):
        os.kill(int((spool / daemon.STARTED).read_text()), signal.SIGKILL)


@pytest.mark.parametrize("mode", [[], ["--direct"]], ids=["helpers", "direct"])
def test_push_is_idempotent_locked_and_fetch_round_trips(inventory: tuple[Inventory, Path], tmp_path: Path,
                                                         mode: list[str]) -> None:
    loaded, path = inventory
    segment = tmp_path / SEGMENT
    segment.write_bytes(b"wal" * 1000)

    assert wal_push.main([*mode, "--inventory", str(path), str(segment), SEGMENT]) == 0
    assert wal_push.main([*mode, "--inventory", str(path), str(segment), SEGMENT]) == 0  # a retry

    head = S3ObjectStore(loaded).head(f"wal/{SEGMENT}")
    assert head is not None and head.lock_mode == "GOVERNANCE" and head.retain_until is not None
    assert head.sha256 == hashlib.sha256(segment.read_bytes()).hexdigest()  # the WAL manifest entry
    target = tmp_path / "restored"
    assert wal_fetch.main([*mode, "--inventory", str(path), SEGMENT, str(target)]) == 0
    assert target.read_bytes() == segment.read_bytes()


@pytest.mark.parametrize("mode", [[], ["--direct"]], ids=["helpers", "direct"])
def test_push_refuses_other_content_and_fetch_signals_end_of_archive(
        inventory: tuple[Inventory, Path], tmp_path: Path, caplog: pytest.LogCaptureFixture,
        mode: list[str]) -> None:
    _, path = inventory
    segment = tmp_path / SEGMENT
    segment.write_bytes(b"a" * 100)
    assert wal_push.main([*mode, "--inventory", str(path), str(segment), SEGMENT]) == 0
    segment.write_bytes(b"b" * 100)

    assert wal_push.main([*mode, "--inventory", str(path), str(segment), SEGMENT]) == 1
    assert "already exists with different content" in caplog.text
    assert wal_fetch.main([*mode, "--inventory", str(path), "000000010000000000000099", str(tmp_path / "x")]) == 1
    assert not (tmp_path / "x").exists()
    assert not list(tmp_path.rglob("*.crmdr-partial"))


@pytest.mark.parametrize("mode", [[], ["--direct"]], ids=["helpers", "direct"])
def test_a_corrupted_object_fails_the_fetch_by_its_sha256(inventory: tuple[Inventory, Path], tmp_path: Path,
                                                          caplog: pytest.LogCaptureFixture, mode: list[str]) -> None:
    loaded, path = inventory
    segment = tmp_path / SEGMENT
    segment.write_bytes(b"good" * 1000)
    assert wal_push.main(["--direct", "--inventory", str(path), str(segment), SEGMENT]) == 0
    store = S3ObjectStore(loaded)
    head = store.head(f"wal/{SEGMENT}")
    assert head is not None and head.sha256
    # a newer version with other bytes under the same manifest entry (what bit rot or tampering leaves)
    store.put_bytes(f"wal/{SEGMENT}", b"evil" * 1000, metadata={"sha256": head.sha256})

    target = tmp_path / "restored"
    assert wal_fetch.main([*mode, "--inventory", str(path), SEGMENT, str(target)]) == 1
    assert "is corrupt" in caplog.text
    assert not target.exists()


def test_a_killed_archiver_loses_nothing_it_acknowledged(inventory: tuple[Inventory, Path], tmp_path: Path) -> None:
    loaded, path = inventory
    wal = tmp_path / "pg_wal"
    (wal / "archive_status").mkdir(parents=True)
    names = [f"0000000100000000000000{n:02X}" for n in range(1, 13)]
    for n, name in enumerate(names):
        (wal / name).write_bytes(bytes([n]) * 300_000)
        (wal / "archive_status" / f"{name}.ready").touch()
    spool = tmp_path / wal_push.SPOOL

    assert wal_push.main(["--inventory", str(path), str(wal / names[0]), names[0]]) == 0  # the archiver works ahead
    _kill_helper(spool)
    store = S3ObjectStore(loaded)
    acked = [p.name for p in (spool / "ok").iterdir() if not p.name.startswith(".")]
    assert names[0] in acked
    for name in acked:  # every ack stands for a stored, locked object with exactly those bytes
        head = store.head(f"wal/{name}")
        assert head is not None and head.lock_mode == "GOVERNANCE"
        assert store.get_bytes(f"wal/{name}") == (wal / name).read_bytes()

    (spool / daemon.STARTED).unlink()  # as if the kill was long ago: the next call starts another
    for name in names:  # PostgreSQL's calls, in order: each returns 0 only once its segment is stored
        assert wal_push.main(["--inventory", str(path), str(wal / name), name]) == 0
        assert store.get_bytes(f"wal/{name}") == (wal / name).read_bytes()


def _step_until(queue: RestoreQueue, condition: Callable[[], bool], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not condition():
        queue.step()
        time.sleep(0.005)


def test_the_restore_queue_keeps_a_requested_segment_though_an_earlier_restore_served_past_it(
        inventory: tuple[Inventory, Path], tmp_path: Path) -> None:
    """GIVEN `served` left further along the archive by an earlier restore on this queue, WHEN replay
    asks for an earlier segment, THEN the queue keeps the downloaded, checked file in ready/ until
    the command takes it. (It dropped it as stale: the command asked twice, gave up, and the restore
    never reached consistency; CI, test_a_crashed_restore_resumes_to_the_end_of_the_archive.)"""
    _, path = inventory
    segment = tmp_path / SEGMENT
    segment.write_bytes(b"wal" * 1000)
    assert wal_push.main(["--direct", "--inventory", str(path), str(segment), SEGMENT]) == 0
    queue_path = wal_fetch.queue_dir(path, None)
    (queue_path / "served").write_text("000000010000000000000020")
    queue = RestoreQueue(Downloader.open(path), queue_path, parallel=2, max_bytes=2 * 16 * 1024 * 1024)
    (queue_path / "want" / SEGMENT).write_text(SEGMENT)

    _step_until(queue, lambda: not (queue_path / "want" / SEGMENT).exists())
    for _ in range(50):
        queue.step()
        time.sleep(0.002)
    queue.pool.shutdown(wait=True)
    queue.step()

    assert (queue_path / "ready" / SEGMENT).read_bytes() == segment.read_bytes()


def test_the_restore_queue_drops_a_prefetched_segment_replay_moved_past(
        inventory: tuple[Inventory, Path]) -> None:
    """Unasked-for files at or before the last served segment are removed: the budget is for what comes next."""
    _, path = inventory
    queue_path = wal_fetch.queue_dir(path, None)
    (queue_path / "ready" / SEGMENT).write_bytes(b"old")
    (queue_path / "served").write_text("000000010000000000000020")
    queue = RestoreQueue(Downloader.open(path), queue_path, parallel=1, max_bytes=16 * 1024 * 1024)

    queue.step()
    queue.pool.shutdown(wait=True)

    assert not (queue_path / "ready" / SEGMENT).exists()


def _run_restore_command(command: str, name: str, target: Path) -> int:
    """As PostgreSQL runs restore_command: through the shell, %f and %p substituted."""
    line = command.replace("%f", name).replace("%p", str(target))
    return subprocess.run(["sh", "-c", line], capture_output=True, timeout=120).returncode


def test_restore_command_takes_a_queued_segment_without_starting_python(tmp_path: Path) -> None:
    """A segment the queue downloaded and checked is renamed into place by the shell: `false` as the
    Python proves no interpreter started (one cost 0.1-0.2 s a segment, more than replaying it)."""
    queue = tmp_path / "queue"
    (queue / "ready").mkdir(parents=True)
    (queue / "ready" / SEGMENT).write_bytes(b"checked")
    command = restore_command("false", str(tmp_path / "inventory.json"), str(queue))

    assert _run_restore_command(command, SEGMENT, tmp_path / "RECOVERYXLOG") == 0
    assert (tmp_path / "RECOVERYXLOG").read_bytes() == b"checked"
    assert (queue / "served").read_text().strip() == SEGMENT and not (queue / "ready" / SEGMENT).exists()
    assert _run_restore_command(command, SEGMENT, tmp_path / "again") != 0  # gone: asks Python (here: fails)


def test_restore_command_asks_the_queue_for_what_it_does_not_hold(inventory: tuple[Inventory, Path],
                                                                 tmp_path: Path) -> None:
    _, path = inventory
    segment = tmp_path / SEGMENT
    segment.write_bytes(b"wal" * 1000)
    assert wal_push.main(["--direct", "--inventory", str(path), str(segment), SEGMENT]) == 0
    command = restore_command(sys.executable, str(path))

    assert _run_restore_command(command, SEGMENT, tmp_path / "restored") == 0
    assert (tmp_path / "restored").read_bytes() == segment.read_bytes()
    assert _run_restore_command(command, "000000010000000000000099", tmp_path / "x") != 0  # end of archive
    assert not (tmp_path / "x").exists()


def test_the_restore_queue_counts_replay_taking_ready_files_as_activity(inventory: tuple[Inventory, Path]) -> None:
    """Replay that finds every file ready asks for none: a moving `served` must keep the queue alive
    (it exited after --idle seconds mid-replay and dropped its window)."""
    _, path = inventory
    queue_path = wal_fetch.queue_dir(path, None)
    queue = RestoreQueue(Downloader.open(path), queue_path, parallel=1, max_bytes=16 * 1024 * 1024)
    (queue_path / "served").write_text(SEGMENT)
    assert queue.step()
    assert not queue.step()  # nothing asked, nothing taken
    (queue_path / "served").write_text("000000010000000000000008")
    assert queue.step()
    queue.pool.shutdown(wait=True)
