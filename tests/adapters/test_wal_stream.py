"""The WAL streamer's uploads against a moto server (the locked DR bucket); pg_receivewal's output
directory is written by the test (the lab test runs the real pg_receivewal: tests/lab/test_wal_stream.py)."""

import hashlib
from pathlib import Path

import pytest

from policies.errors import DrError
from policies.sla import load_policy
from recovery.adapters.s3_store import S3ObjectStore
from recovery.inventory import inventory_tier
from recovery.wal.archiver import Uploader
from recovery.wal.streamer import Progress, Streamer
from recovery.wal.streaming import WAL_PAGE, assemble, partial_prefix
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
