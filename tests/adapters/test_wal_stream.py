"""The WAL streamer's uploads against a moto server (the locked DR bucket); pg_receivewal's output
directory is written by the test (the lab test runs the real pg_receivewal: tests/lab/test_wal_stream.py)."""

import hashlib
from pathlib import Path

import pytest

from policies.errors import DrError, VerificationFailed
from policies.sla import load_policy
from recovery.adapters.s3_store import S3ObjectStore
from recovery.inventory import inventory_tier
from recovery.ports import ObjectNotFound
from recovery.wal.archiver import Uploader
from recovery.wal.restore_queue import Downloader
from recovery.wal.segments import SEGMENT_SIZE
from recovery.wal.streamer import Progress, Streamer
from recovery.wal.streaming import WAL_PAGE, assemble, chunk_key, partial_prefix
from tests.adapters.conftest import locked_dr_bucket
from tests.conftest import make_inventory

pytestmark = pytest.mark.adapters

DONE, OTHER, RECEIVING = "000000010000000000000007", "000000010000000000000008", "000000010000000000000009"


def _uploader(url: str) -> Uploader:
    loaded = make_inventory(**{"backup.kms_key_id": locked_dr_bucket(url), "aws.endpoint_url": url})
    tier = inventory_tier(loaded, load_policy(None))
    return Uploader(S3ObjectStore(loaded, lock_mode=tier.object_lock_mode), tier)


def _received(pages: int, total: int = 4) -> bytes:
    """A preallocated partial: `pages` written pages (each ending in zeros), the rest zero."""
    page = b"\x01" * (WAL_PAGE - 100) + bytes(100)
    return page * pages + bytes(WAL_PAGE * (total - pages))


def test_streamed_files_join_the_archive_and_the_partial_goes_up_in_chunks(moto_url: str, tmp_path: Path) -> None:
    uploader = _uploader(moto_url)
    store = uploader.store
    uploader.store_bytes(b"wal" * 1000, DONE)  # the archive_command stored it first
    (tmp_path / DONE).write_bytes(b"wal" * 1000)
    partial = tmp_path / f"{RECEIVING}.partial"
    partial.write_bytes(_received(2))
    streamer = Streamer(uploader, tmp_path, 0.0, progress := Progress())

    streamer.step(0.0)
    streamer.step(1.0)  # nothing new: no upload
    partial.write_bytes(_received(3))
    streamer.step(2.0)

    assert progress.segments == [DONE] and not (tmp_path / DONE).exists()
    assert progress.partial_uploads == 2 and progress.partial_bytes == 3 * WAL_PAGE
    chunks = store.list(partial_prefix(partial.name))
    assert [c.key.rsplit("/", 1)[1] for c in chunks] == ["00000000", f"{WAL_PAGE:08X}"]
    assert all(c.retain_until is not None for c in (store.head(c.key) for c in chunks))  # locked like the segments
    body = assemble((int(c.key.rsplit("/", 1)[1], 16), store.get_bytes(c.key)) for c in chunks)
    assert body == _received(3)[:3 * WAL_PAGE]


def test_other_bytes_under_an_archived_name_stop_the_stream_and_are_not_stored(moto_url: str,
                                                                               tmp_path: Path) -> None:
    uploader = _uploader(moto_url)
    uploader.store_bytes(b"a" * 100, OTHER)
    (tmp_path / OTHER).write_bytes(b"b" * 100)

    with pytest.raises(DrError, match="already exists with different content"):
        Streamer(uploader, tmp_path, 1.0, Progress()).step(0.0)
    stored = uploader.store.head(f"wal/{OTHER}")
    assert stored is not None and stored.sha256 == hashlib.sha256(b"a" * 100).hexdigest()
    assert (tmp_path / OTHER).exists()  # kept for the operator


def _streamed(moto_url: str, tmp_path: Path) -> tuple[Uploader, Downloader]:
    """RECEIVING streamed as two chunks (2 pages, then 3) after DONE was archived whole."""
    uploader = _uploader(moto_url)
    uploader.store_bytes(b"wal" * 1000, DONE)
    partial = tmp_path / f"{RECEIVING}.partial"
    streamer = Streamer(uploader, tmp_path, 0.0, Progress())
    for pages in (2, 3):
        partial.write_bytes(_received(pages))
        streamer.step(float(pages))
    return uploader, Downloader(uploader.store)


def test_restore_serves_the_streamed_partial_padded_only_when_replay_asks(moto_url: str, tmp_path: Path) -> None:
    _, downloader = _streamed(moto_url, tmp_path)
    target = tmp_path / "restored"

    downloader.download(RECEIVING, target, partial=True)

    assert target.read_bytes() == _received(3)[:3 * WAL_PAGE].ljust(SEGMENT_SIZE, b"\0")
    with pytest.raises(ObjectNotFound):  # a prefetch never serves a partial
        downloader.download(RECEIVING, tmp_path / "prefetched")
    with pytest.raises(ObjectNotFound, match="has no streamed partial"):
        downloader.download(OTHER, tmp_path / "other", partial=True)


def test_the_archived_segment_wins_and_a_completed_later_one_makes_the_partial_stale(moto_url: str,
                                                                                       tmp_path: Path) -> None:
    uploader, downloader = _streamed(moto_url, tmp_path)
    uploader.store_bytes(b"later" * 100, "00000001000000000000000A")

    with pytest.raises(ObjectNotFound, match="stale: wal/00000001000000000000000A completed after it"):
        downloader.download(RECEIVING, tmp_path / "stale", partial=True)
    uploader.store_bytes(b"whole" * 100, RECEIVING)
    downloader.download(RECEIVING, tmp_path / "whole", partial=True)
    assert (tmp_path / "whole").read_bytes() == b"whole" * 100


def test_a_chunk_whose_sha256_differs_is_never_served(moto_url: str, tmp_path: Path) -> None:
    uploader, downloader = _streamed(moto_url, tmp_path)
    first = uploader.store.list(partial_prefix(f"{RECEIVING}.partial"))[0].key
    honest = uploader.store.head(first)
    assert honest is not None and honest.sha256
    uploader.store.put_bytes(first, b"\x02" * WAL_PAGE, metadata={"sha256": honest.sha256})  # a newer version

    with pytest.raises(VerificationFailed, match=f"{first} is corrupt"):
        downloader.download(RECEIVING, tmp_path / "bad", partial=True)
    assert not (tmp_path / "bad").exists()


def test_a_missing_chunk_is_a_gap_never_served(moto_url: str, tmp_path: Path) -> None:
    uploader, downloader = _streamed(moto_url, tmp_path)
    data = b"\x03" * WAL_PAGE
    uploader.put_locked(chunk_key(f"{RECEIVING}.partial", 8 * WAL_PAGE), data,
                        {"sha256": hashlib.sha256(data).hexdigest()})

    with pytest.raises(VerificationFailed, match=f"wal-partial/{RECEIVING}.partial/: .* gap at offset 24576"):
        downloader.download(RECEIVING, tmp_path / "gap", partial=True)
