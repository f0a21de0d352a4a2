"""Backups proven by restoring them, and the corruption matrix: each case fails with its own message.

One lab for this module (slot 3, bronze tier so freshness is not a race with the clock), with
WAL archiving installed. Every test takes its own recovery point, so corrupting one never
touches another. Objects are Object-Locked: corruption is written as a new version or a
delete marker, exactly what an attacker or a buggy tool without bypass rights could do.
"""

import hashlib
import io
import json
import random
import re
import shutil
import tarfile
import tempfile
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from tenacity import Retrying, stop_after_delay, wait_fixed

from recovery.adapters.aws_session import client
from recovery.adapters.postgres import connect
from recovery.backups.manifest import ObjectEntry, RecoveryPoint, manifest_key, seal, to_bytes
from tests.conftest import crmdr
from tests.lab.conftest import Lab, start_lab, stop_lab

pytestmark = pytest.mark.lab


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    lab = start_lab(3, rows=200, sla_tier="bronze")
    try:
        installed = crmdr("backup", "wal", "install", "--inventory", str(lab.inventory_path), "--json")
        assert installed.returncode == 0, installed.stderr
        yield lab
    finally:
        stop_lab(lab.dir)


@pytest.fixture
def scratch_dir() -> Iterator[Path]:
    """Where scratch servers go: traversable by the PostgreSQL OS user (pytest's tmp_path is not)."""
    path = Path(tempfile.mkdtemp(prefix="crmdr-scratch-test-", dir="/tmp"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def run(lab: Lab, *args: str, scratch: Path | None = None) -> Any:
    env = {"CRMDR_SCRATCH_DIR": str(scratch)} if scratch else None
    return crmdr(*args, "--inventory", str(lab.inventory_path), env=env)


def take_point(lab: Lab, kind: str = "physical", *options: str) -> str:
    """Uncompressed unless told: the corruption matrix edits the tar's bytes in place."""
    done = run(lab, "backup", "run", "--kind", kind, "--json", *(options or ("--compress", "none")))
    assert done.returncode == 0, done.stderr
    return str(json.loads(done.stdout)["id"])


class Bucket:
    """Raw S3 access to the lab's bucket, as a careless or hostile client would have."""

    def __init__(self, lab: Lab) -> None:
        self.s3 = client(lab.inventory.aws, "s3", lab.inventory.backup.region)
        self.name = lab.inventory.backup.bucket
        self.prefix = lab.inventory.backup.prefix

    def get(self, key: str) -> bytes:
        return bytes(self.s3.get_object(Bucket=self.name, Key=self.prefix + key)["Body"].read())

    def put(self, key: str, data: bytes) -> None:
        self.s3.put_object(Bucket=self.name, Key=self.prefix + key, Body=data)

    def hide(self, key: str) -> None:
        """A delete marker: allowed under Object Lock, and the object is gone for readers."""
        self.s3.delete_object(Bucket=self.name, Key=self.prefix + key)

    def keys(self, prefix: str) -> list[str]:
        pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.name, Prefix=self.prefix + prefix)
        return [o["Key"][len(self.prefix):] for page in pages for o in page.get("Contents", [])]


def manifest(bucket: Bucket, pid: str) -> RecoveryPoint:
    return RecoveryPoint.model_validate_json(bucket.get(manifest_key(pid)))


def reseal(bucket: Bucket, pid: str, **changes: Any) -> None:
    """A well-formed, correctly sealed manifest that lies (as another tool or cluster would write)."""
    point = manifest(bucket, pid)
    bucket.put(manifest_key(pid), to_bytes(seal(point.model_copy(update=changes))))


def tar_key(pid: str) -> str:
    return f"points/{pid}/base.tar"


def flip_bit(bucket: Bucket, pid: str) -> None:
    data = bytearray(bucket.get(tar_key(pid)))
    data[len(data) // 2] ^= 0x01
    bucket.put(tar_key(pid), bytes(data))


def other_cluster(bucket: Bucket, pid: str) -> None:
    point = manifest(bucket, pid)
    reseal(bucket, pid, cluster=point.cluster.model_copy(update={"system_identifier": "1234567890"}))


def other_major(bucket: Bucket, pid: str) -> None:
    point = manifest(bucket, pid)
    reseal(bucket, pid, cluster=point.cluster.model_copy(update={"pg_version": 160004}))


def switch_wal(lab: Lab) -> str:
    """Write, switch to a new segment; wait until the finished one is in the bucket."""
    with connect(lab.settings.primary_ip.exploded, lab.settings.pg_port, user="crmdr",
                 password=lab.password, dbname="crm") as conn:
        conn.execute("INSERT INTO crmdr_probe (id, writer) SELECT coalesce(max(id), 0) + 1, 'test' "
                     "FROM crmdr_probe")
        row = conn.execute("SELECT pg_walfile_name(pg_switch_wal())").fetchone()
    assert row is not None
    key = f"wal/{row[0]}"
    for attempt in Retrying(stop=stop_after_delay(60), wait=wait_fixed(0.2), reraise=True):
        with attempt:
            assert key in Bucket(lab).keys("wal/")
    return key


def wal_gap(lab: Lab, bucket: Bucket, pid: str) -> None:
    hidden = switch_wal(lab)
    switch_wal(lab)
    bucket.hide(hidden)


def replace_consistently(bucket: Bucket, pid: str, data: bytes) -> None:
    """New content under a manifest re-sealed to match it: only PostgreSQL-level checks can tell."""
    bucket.put(tar_key(pid), data)
    entry = ObjectEntry(key=tar_key(pid), size=len(data), sha256=hashlib.sha256(data).hexdigest())
    reseal(bucket, pid, objects=[entry])


def not_a_tar(bucket: Bucket, pid: str) -> None:
    replace_consistently(bucket, pid, random.Random(7).randbytes(len(bucket.get(tar_key(pid)))))


def data_file_edited(bucket: Bucket, pid: str) -> None:
    data = bytearray(bucket.get(tar_key(pid)))
    with tarfile.open(fileobj=io.BytesIO(bytes(data))) as archive:
        member = next(m for m in archive.getmembers() if m.name.startswith("base/") and m.size > 8192)
    data[member.offset_data + 100] ^= 0xFF
    replace_consistently(bucket, pid, bytes(data))


CORRUPTIONS: dict[str, tuple[Callable[..., None], str]] = {
    "zero-byte object": (lambda b, p: b.put(tar_key(p), b""), r"object points/\S+/base\.tar is empty"),
    "truncated object": (lambda b, p: b.put(tar_key(p), b.get(tar_key(p))[:-512]),
                         r"object points/\S+/base\.tar is \d+ bytes, the manifest says \d+"),
    "one flipped bit": (flip_bit, r"object points/\S+/base\.tar SHA-256 mismatch"),
    "missing object": (lambda b, p: b.hide(tar_key(p)), r"object points/\S+/base\.tar is missing"),
    "edited manifest": (lambda b, p: b.put(manifest_key(p), b.get(manifest_key(p)).replace(
        b'"rows": 200', b'"rows": 201')), r"manifest points/\S+/manifest\.json was modified"),
    "manifest of another cluster": (other_cluster, r"manifest points/\S+ is from another cluster"),
    "another PostgreSQL major": (other_major, r"manifest points/\S+ is from PostgreSQL 16, expected 15"),
    "not a tar, manifest re-sealed": (not_a_tar, r"object points/\S+/base\.tar is not a readable tar archive"),
    "data file edited, manifest re-sealed": (data_file_edited,
                                             r"pg_verifybackup rejects points/\S+/base\.tar: .*checksum mismatch"),
    "gap in the WAL chain": (wal_gap, r"WAL chain gap after recovery point \S+: segment wal/[0-9A-F]{24} is missing"),
}


@pytest.mark.parametrize("case", list(CORRUPTIONS))
def test_corruption_fails_verification_naming_the_object(lab: Lab, case: str) -> None:
    corrupt, message = CORRUPTIONS[case]
    pid = take_point(lab)
    bucket = Bucket(lab)
    assert run(lab, "backup", "verify", "--id", pid).returncode == 0  # sound before

    if corrupt is wal_gap:
        wal_gap(lab, bucket, pid)
    else:
        corrupt(bucket, pid)
    done = run(lab, "backup", "verify", "--id", pid)

    assert done.returncode == 1, done.stdout + done.stderr
    assert re.search(message, done.stderr), done.stderr


def test_restore_test_validates_and_is_recorded(lab: Lab, scratch_dir: Path) -> None:
    assert run(lab, "backup", "list").returncode in (0, 1)
    pid = take_point(lab)
    switch_wal(lab)  # archived WAL after the point: the restore-test replays it as well

    done = run(lab, "backup", "verify", "--id", pid, "--restore", "--json", scratch=scratch_dir)

    assert done.returncode == 0, done.stderr
    verdict = json.loads(done.stdout)
    assert verdict["ok"] and verdict["restore"] and verdict["reasons"] == []
    assert "no TCP" in verdict["evidence"]["isolation"]
    assert verdict["evidence"]["wal_replayed_to"]  # the archived WAL after the point was replayed too
    assert list(scratch_dir.iterdir()) == []  # scratch removed
    listed = json.loads(run(lab, "backup", "list", "--json").stdout)
    mine = next(p for p in listed["points"] if p["id"] == pid)
    assert mine["state"] == "restored+validated" and listed["fresh"] is True
    assert listed["wal"]["segments"] > 0


def test_logical_point_restores_and_validates(lab: Lab, scratch_dir: Path) -> None:
    pid = take_point(lab, "logical")

    done = run(lab, "backup", "verify", "--id", pid, "--restore", "--json", scratch=scratch_dir)

    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["ok"] is True
    assert list(scratch_dir.iterdir()) == []


def test_row_deleted_after_checksums_fails_the_restore_test(lab: Lab, scratch_dir: Path) -> None:
    """GIVEN checksums taken, THEN a row deleted before the data reached the backup."""
    bucket = Bucket(lab)
    before = manifest(bucket, take_point(lab))
    with connect(lab.settings.primary_ip.exploded, lab.settings.pg_port, user="crmdr",
                 password=lab.password, dbname="crm") as conn:
        conn.execute("DELETE FROM activities WHERE id = (SELECT max(id) FROM activities)")
    pid = take_point(lab)
    reseal(bucket, pid, tables=before.tables)

    done = run(lab, "backup", "verify", "--id", pid, "--restore", scratch=scratch_dir)

    assert done.returncode == 1
    assert "table activities has 999 rows, the recovery point recorded 1000" in done.stderr
    assert list(scratch_dir.iterdir()) == []


def primary(lab: Lab):  # type: ignore[no-untyped-def]
    return connect(lab.settings.primary_ip.exploded, lab.settings.pg_port, user="crmdr",
                   password=lab.password, dbname="crm")


def test_row_changed_in_a_hash_record_table_fails_the_restore_test(lab: Lab, scratch_dir: Path) -> None:
    """GIVEN digests taken with hash_record_extended, THEN one row's text changed (same row count)."""
    bucket = Bucket(lab)
    before = manifest(bucket, take_point(lab))
    with primary(lab) as conn:
        conn.execute("UPDATE accounts SET name = name || '.' WHERE id = 1")
    pid = take_point(lab)
    reseal(bucket, pid, tables=before.tables)

    done = run(lab, "backup", "verify", "--id", pid, "--restore", scratch=scratch_dir)

    assert before.tables["accounts"].method == "record"
    assert done.returncode == 1
    assert re.search(r"table accounts content checksum differs from the recovery point's", done.stderr), done.stderr
    assert list(scratch_dir.iterdir()) == []


@pytest.mark.parametrize("kind", ["physical", "logical"])
def test_a_table_with_a_json_column_is_digested_as_text_and_restores(lab: Lab, scratch_dir: Path, kind: str) -> None:
    """GIVEN a table whose json column has no extended hash function (hash_record_extended would raise)."""
    with primary(lab) as conn:
        conn.execute("CREATE TABLE crmdr_t_events (id bigint PRIMARY KEY, body json, at point)")
        conn.execute("""INSERT INTO crmdr_t_events SELECT g, json_build_object('n', g), point(g, g)
                        FROM generate_series(1, 50) g""")
    try:
        pid = take_point(lab, kind)
        point = manifest(Bucket(lab), pid)
        restored = run(lab, "backup", "verify", "--id", pid, "--restore", "--json", scratch=scratch_dir)
        bucket = Bucket(lab)
        with primary(lab) as conn:
            conn.execute("""UPDATE crmdr_t_events SET body = '{"n": 0}' WHERE id = 7""")
        changed = take_point(lab, kind)
        reseal(bucket, changed, tables=point.tables)
        detected = run(lab, "backup", "verify", "--id", changed, "--restore", scratch=scratch_dir)
    finally:
        with primary(lab) as conn:
            conn.execute("DROP TABLE crmdr_t_events")

    assert point.tables["crmdr_t_events"].method == "text" and point.tables["crmdr_t_events"].rows == 50
    assert point.tables["accounts"].method == "record"
    assert restored.returncode == 0, restored.stderr
    assert json.loads(restored.stdout)["ok"] is True
    assert detected.returncode == 1
    assert "table crmdr_t_events content checksum differs from the recovery point's" in detected.stderr
    assert list(scratch_dir.iterdir()) == []


def test_table_written_during_a_physical_backup_is_not_a_false_alarm(lab: Lab, scratch_dir: Path, tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """GIVEN a write to `activities` while the base backup streams: the stream is held at its
    `backup-stream` pause point (first bytes read, pg_basebackup not yet at its stop point), the
    write commits, then the stream goes on. A progress callback is not "during": with zstd the
    lab's whole stream is one part, reported only after pg_basebackup has exited."""
    from policies.sla import load_policy
    from recovery.adapters.s3_store import S3ObjectStore
    from recovery.backups.take import run_backup

    gate = tmp_path / "stream-gate"
    monkeypatch.setenv("CRMDR_TEST_PAUSE_AT", f"backup-stream:{gate}")
    store = S3ObjectStore(lab.inventory)
    with ThreadPoolExecutor(max_workers=1) as pool:
        taking = pool.submit(run_backup, lab.inventory, load_policy().tier("bronze"), store, "physical")
        for attempt in Retrying(stop=stop_after_delay(120), wait=wait_fixed(0.05), reraise=True):
            with attempt:
                assert Path(f"{gate}.reached").exists() or taking.done(), "the stream never reached its pause point"
        with connect(lab.settings.primary_ip.exploded, lab.settings.pg_port, user="crmdr",
                     password=lab.password, dbname="crm") as conn:
            conn.execute("UPDATE activities SET notes = notes || '!' WHERE id = 1")
        gate.touch()
        point = taking.result(timeout=300)

    assert point.tables_unstable == ["activities"]
    assert "activities" not in point.tables and point.tables["accounts"].rows == 200
    done = run(lab, "backup", "verify", "--id", point.id, "--restore", scratch=scratch_dir)
    assert done.returncode == 0, done.stderr


def test_corrupt_archived_wal_passes_the_listing_but_fails_the_restore_test(lab: Lab, scratch_dir: Path) -> None:
    """GIVEN a segment after the point with one byte changed (same name, same size)."""
    pid = take_point(lab)
    corrupt_key = switch_wal(lab)
    switch_wal(lab)
    bucket = Bucket(lab)
    data = bytearray(bucket.get(corrupt_key))
    data[200] ^= 0xFF
    bucket.put(corrupt_key, bytes(data))

    listed = run(lab, "backup", "verify", "--id", pid)
    restored = run(lab, "backup", "verify", "--id", pid, "--restore", scratch=scratch_dir)

    assert listed.returncode == 0, listed.stderr  # names and continuity are fine
    assert restored.returncode == 1
    assert re.search(r"WAL replay stopped at \S+, before the newest archived segment wal/[0-9A-F]{24}",
                     restored.stderr), restored.stderr
    assert list(scratch_dir.iterdir()) == []


@pytest.mark.parametrize("compression", ["zstd", "lz4", "none"])
@pytest.mark.parametrize("kind", ["physical", "logical"])
def test_each_compression_restores_and_validates(lab: Lab, scratch_dir: Path, kind: str, compression: str) -> None:
    """The manifest says how the bytes are stored; verify hashes the stored bytes and restores the expanded ones."""
    pid = take_point(lab, kind, "--compress", compression)
    bucket = Bucket(lab)
    point = manifest(bucket, pid)
    suffix = {"zstd": ".zst", "lz4": ".lz4", "none": ""}[compression]
    base = "base.tar" if kind == "physical" else "crm.dump"
    assert point.compression == compression and [o.key for o in point.objects] == [f"points/{pid}/{base}{suffix}"]
    stored = bucket.get(point.objects[0].key)
    assert hashlib.sha256(stored).hexdigest() == point.objects[0].sha256  # the hash is of the stored bytes
    magic = {"zstd": b"\x28\xb5\x2f\xfd", "lz4": b"\x04\x22\x4d\x18"}.get(compression)
    assert stored.startswith(magic) if magic else not stored.startswith((b"\x28\xb5\x2f\xfd", b"\x04\x22\x4d\x18"))

    done = run(lab, "backup", "verify", "--id", pid, "--restore", "--json", scratch=scratch_dir)

    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["ok"] is True
    assert list(scratch_dir.iterdir()) == []


def test_a_compressed_object_that_is_not_its_stream_fails_naming_it(lab: Lab) -> None:
    """GIVEN an lz4 point whose object is replaced by other bytes and the manifest re-sealed to match."""
    pid = take_point(lab, "physical", "--compress", "lz4")
    bucket = Bucket(lab)
    key = manifest(bucket, pid).objects[0].key
    data = random.Random(9).randbytes(len(bucket.get(key)))
    bucket.put(key, data)
    reseal(bucket, pid, objects=[ObjectEntry(key=key, size=len(data), sha256=hashlib.sha256(data).hexdigest())])

    done = run(lab, "backup", "verify", "--id", pid)

    assert done.returncode == 1, done.stdout + done.stderr
    assert f"object {key} is not a readable lz4 stream" in done.stderr


def test_backup_from_the_standby_restores_with_the_archived_wal(lab: Lab, scratch_dir: Path) -> None:
    """pg_basebackup and the digests run on the standby; the manifest says so; the restore-test
    replays the WAL the primary archived after it and validates."""
    pid = take_point(lab, "physical", "--from", "standby")
    point = manifest(Bucket(lab), pid)
    assert point.taken_from == f"standby (standby, {lab.settings.standby_ip}:{lab.settings.pg_port})"
    assert point.tables["accounts"].rows == 200 and point.compression == "zstd"  # the default
    switch_wal(lab)  # a standby's stop point is in the primary's current segment (no switch at the stop):
    switch_wal(lab)  # archive that one, then one after it, so there is WAL past the point to replay

    done = run(lab, "backup", "verify", "--id", pid, "--restore", "--json", scratch=scratch_dir)

    assert done.returncode == 0, done.stderr
    verdict = json.loads(done.stdout)
    assert verdict["ok"] and verdict["evidence"]["wal_replayed_to"]
    assert list(scratch_dir.iterdir()) == []
