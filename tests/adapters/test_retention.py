"""`backup prune` against moto: expired points go, Object Lock and the newest verified point stay."""

from datetime import UTC, datetime, timedelta

import pytest

from recovery.adapters.s3_store import S3ObjectStore
from recovery.backups.manifest import (
    ClusterIdentity,
    ObjectEntry,
    RecoveryPoint,
    Verification,
    manifest_key,
    seal,
    to_bytes,
    verification_key,
)
from recovery.backups.retention import prune
from tests.conftest import make_inventory

pytestmark = pytest.mark.adapters

NOW = datetime.now(UTC)


@pytest.fixture
def store(dr_key_id: str) -> S3ObjectStore:
    return S3ObjectStore(make_inventory(**{"backup.kms_key_id": dr_key_id}))


def add_point(store: S3ObjectStore, pid: str, days_ago: int, *, verified: bool,
              lock_until: datetime | None = None) -> None:
    finished = NOW - timedelta(days=days_ago)
    key = f"points/{pid}/base.tar"
    stored = store.put_bytes(key, b"tar", retain_until=lock_until)
    point = seal(RecoveryPoint(
        id=pid, kind="physical", stack="s", tool_version="0", started_at=finished, finished_at=finished,
        start_lsn="0/3000028", cluster=ClusterIdentity(system_identifier="1", pg_version=150004, timeline=1),
        objects=[ObjectEntry(key=key, size=3, sha256=str(stored.sha256))], kms_key_id="k",
        retain_until=finished + timedelta(days=35)))
    store.put_bytes(manifest_key(pid), to_bytes(point))
    if verified:
        verdict = Verification(point_id=pid, checked_at=finished, restore=True, ok=True, reasons=[])
        store.put_bytes(verification_key(pid, finished), verdict.model_dump_json().encode())


def test_prune_deletes_expired_keeps_locked_and_newest_verified(store: S3ObjectStore) -> None:
    add_point(store, "a-old", 60, verified=False)
    add_point(store, "b-locked", 50, verified=False, lock_until=NOW + timedelta(days=1))
    add_point(store, "c-verified", 40, verified=True)
    store.put_bytes("wal/000000010000000000000001", b"w")

    assert prune(store, NOW, dry_run=True).outcomes == {
        "a-old": "would delete", "b-locked": "would delete", "wal/000000010000000000000001": "would delete"}
    assert store.head(manifest_key("a-old")) is not None
    done = prune(store, NOW, dry_run=False)

    assert done.outcomes["a-old"] == "deleted"
    assert done.outcomes["wal/000000010000000000000001"] == "deleted"
    assert done.outcomes["b-locked"].startswith("kept:")
    assert done.plan.kept == "c-verified"
    assert store.list("points/a-old/") == []
    assert store.head("points/b-locked/base.tar") is not None
    assert store.head(manifest_key("b-locked")) is not None  # the manifest goes last: still listed
    assert store.head(manifest_key("c-verified")) is not None


def test_prune_removes_streamed_partials_archived_whole_or_older_than_every_point(store: S3ObjectStore) -> None:
    add_point(store, "c-verified", 1, verified=True)  # its WAL starts in segment 3
    chunk = "wal-partial/{}.partial/{:08X}"
    old, archived, receiving, locked = (f"00000001000000000000000{n}" for n in (2, 4, 5, 6))
    for segment in (old, archived, receiving):
        for start in (0, 0x2000):
            store.put_bytes(chunk.format(segment, start), b"w")
    store.put_bytes(chunk.format(locked, 0), b"w", retain_until=NOW + timedelta(days=1))
    for segment in (archived, locked):
        store.put_bytes(f"wal/{segment}", b"whole")

    dry = prune(store, NOW, dry_run=True).partials
    done = prune(store, NOW, dry_run=False)

    assert dry[f"wal-partial/{old}.partial/"] == \
        "would delete (2 chunk(s), older than the WAL start of every kept recovery point)"
    assert done.partials[f"wal-partial/{archived}.partial/"] == f"deleted (2 chunk(s), wal/{archived} is archived whole)"
    assert done.partials[f"wal-partial/{old}.partial/"].startswith("deleted (2 chunk(s)")
    assert done.partials[f"wal-partial/{locked}.partial/"].startswith("locked until ")
    assert f"wal-partial/{receiving}.partial/" not in done.partials  # the newest WAL: restore may need it
    assert [o.key for o in store.list("wal-partial/")] == [
        chunk.format(receiving, 0), chunk.format(receiving, 0x2000), chunk.format(locked, 0)]
