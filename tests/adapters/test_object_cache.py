"""Catalog reads: small objects cached by ETag, parallel GETs, newest verdict per point (moto)."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

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
from recovery.backups.verify import read_catalog
from tests.conftest import make_inventory

pytestmark = pytest.mark.adapters
T0 = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def store(dr_key_id: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> S3ObjectStore:
    monkeypatch.setenv("CRMDR_CACHE_DIR", str(tmp_path / "cache"))
    return S3ObjectStore(make_inventory(**{"backup.kms_key_id": dr_key_id}))


def cached_files(tmp_path: Path) -> list[Path]:
    return [p for p in (tmp_path / "cache").rglob("*") if p.is_file()]


def test_a_listed_object_is_served_from_the_cache_until_its_etag_changes(store: S3ObjectStore,
                                                                          tmp_path: Path) -> None:
    store.put_bytes("points/a/manifest.json", b"first")
    store.list("points/")
    assert store.get_bytes("points/a/manifest.json") == b"first"
    assert len(cached_files(tmp_path)) == 1

    real_get = store._s3.get_object
    store._s3.get_object = lambda **kw: (_ for _ in ()).throw(AssertionError("GET despite the cache"))
    assert store.get_bytes("points/a/manifest.json") == b"first"

    store._s3.get_object = real_get
    store.put_bytes("points/a/manifest.json", b"second")  # a new version, a new ETag
    store.list("points/")
    assert store.get_bytes("points/a/manifest.json") == b"second"


def test_cache_off_writes_nothing(store: S3ObjectStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                  dr_key_id: str) -> None:
    monkeypatch.setenv("CRMDR_CACHE_DIR", "off")
    plain = S3ObjectStore(make_inventory(**{"backup.kms_key_id": dr_key_id}))
    plain.put_bytes("points/a/manifest.json", b"x")
    plain.list("points/")
    assert plain.get_bytes("points/a/manifest.json") == b"x"
    assert cached_files(tmp_path) == []


def put_point(store: S3ObjectStore, n: int, verdicts: list[bool]) -> str:
    started = T0 + timedelta(minutes=n)
    pid = f"{started:%Y%m%dT%H%M%SZ}-physical"
    point = seal(RecoveryPoint(
        id=pid, kind="physical", stack="lab", tool_version="test", started_at=started,
        finished_at=started + timedelta(seconds=5), kms_key_id=store.kms_key_id,
        cluster=ClusterIdentity(system_identifier="1", pg_version=150004, timeline=1),
        objects=[ObjectEntry(key=f"points/{pid}/base.tar", size=1, sha256="0" * 64)]))
    store.put_bytes(manifest_key(pid), to_bytes(point))
    for i, ok in enumerate(verdicts):
        at = started + timedelta(minutes=1 + i)
        verdict = Verification(point_id=pid, checked_at=at, restore=False, ok=ok, reasons=[] if ok else ["x"])
        store.put_bytes(verification_key(pid, at), verdict.model_dump_json().encode())
    return pid


def test_catalog_takes_each_points_newest_verdict(store: S3ObjectStore) -> None:
    ids = [put_point(store, n, verdicts) for n, verdicts in
           enumerate([[], [True], [True, False], [False, True]] * 10)]
    store.put_bytes("points/broken/manifest.json", b"{}")

    for _ in range(2):  # cold, then from the cache
        catalog = read_catalog(store)
        assert [s.point.id for s in catalog.points] == ids
        assert [s.state() for s in catalog.points[:4]] == ["unverified", "integrity-ok", "FAILED", "integrity-ok"]
        assert len(catalog.broken) == 1 and "points/broken/manifest.json" in catalog.broken[0]


@pytest.mark.parametrize("readers", [1, 4])
def test_reads_come_back_in_order_and_an_empty_object_reads_as_nothing(dr_key_id: str, readers: int) -> None:
    store = S3ObjectStore(make_inventory(**{"backup.kms_key_id": dr_key_id}), readers=readers)
    data = bytes(range(251)) * 40_000  # ~10 MB: 10 ranges of 1 MiB, 4 at a time with 4 readers
    store.put_bytes("points/c/base.tar", data)
    store.put_bytes("points/c/empty", b"")

    assert b"".join(store.iter_chunks("points/c/base.tar", 1024 * 1024)) == data
    assert list(store.iter_chunks("points/c/empty")) == []
