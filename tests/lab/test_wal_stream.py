"""`crmdr backup wal stream` (issue 16, item 8): the bucket holds the primary's WAL to within seconds.

Against the lab's real primary and moto S3, with archive_command installed and a physical point
taken first: a segment completed while streaming is stored under `wal/<name>` like the archiver
stores it; a commit acknowledged 2.5 s before the primary crashes (`pg_ctl stop -m immediate`) is
in the stored partial segment, read back and decoded with pg_waldump, while its segment never
completed (so archive_command, which ships only completed segments, did not ship it). Then
`crmdr restore --latest` onto the standby replays the streamed partial and the row is there; the
restore says so, and that the archived WAL alone ended a segment before the commit. The lag from
commit to its bytes in the bucket is printed.
"""

import hashlib
import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest

from drills.lab.settings import LabPaths
from drills.lab.system import as_service_user, pg_bin_dir
from recovery.adapters.postgres import connect
from recovery.adapters.s3_store import S3ObjectStore
from recovery.wal.segments import SEGMENT_SIZE, wal_key
from recovery.wal.streamer import SLOT
from recovery.wal.streaming import WAL_PAGE, assemble, partial_prefix
from tests.conftest import ROOT, crmdr
from tests.lab.conftest import Lab
from tests.lab.runbook_helpers import run

pytestmark = [pytest.mark.lab, pytest.mark.slow]
WAIT = 30.0


def _until(check, what: str, wait: float = WAIT) -> float:  # type: ignore[no-untyped-def]
    """Poll `check` until true; the seconds it took."""
    started = time.monotonic()
    while not check():
        assert time.monotonic() - started < wait, f"not within {wait:g} s: {what}"
        time.sleep(0.05)
    return time.monotonic() - started


def _commits(segment: Path) -> str:
    """pg_waldump's text of a segment (it stops with an error at the end of the received WAL)."""
    done = subprocess.run([str(pg_bin_dir() / "pg_waldump"), str(segment)], capture_output=True, text=True, check=False)
    return done.stdout


def _stored(store: S3ObjectStore, partial: str) -> bytes:
    """The partial's received bytes as the bucket holds them (each chunk's SHA-256 checked)."""
    chunks = []
    for obj in store.list(partial):
        data, meta = store.get_with_metadata(obj.key)
        assert meta["sha256"] == hashlib.sha256(data).hexdigest(), obj.key
        chunks.append((int(obj.key.rsplit("/", 1)[1], 16), data))
    return assemble(chunks)


def _stream(lab: Lab, directory: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "crmdr", "backup", "wal", "stream", "--inventory", str(lab.inventory_path),
         "--dir", str(directory), "--partial-every", "1s", "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)


def _slot_active(conn: psycopg.Connection) -> bool:  # type: ignore[type-arg]
    return conn.execute("SELECT active FROM pg_replication_slots WHERE slot_name = %s", (SLOT,)).fetchone() == (True,)


def _restored_probe(lab: Lab) -> int:
    """Rows of the last commit (id -1) on the restored standby, once it is a primary."""
    with connect(lab.settings.standby_ip.exploded, lab.settings.pg_port, user="crmdr", password=lab.password,
                 dbname="crm") as conn:
        assert conn.execute("SELECT pg_is_in_recovery()").fetchone() == (False,)
        return int(conn.execute("SELECT count(*) FROM stream_probe WHERE id = -1").fetchone()[0])


def test_stream_stores_the_partial_a_crash_would_lose_and_restore_replays_it(fresh_lab: Lab, tmp_path: Path) -> None:
    db, store = fresh_lab.inventory.database, S3ObjectStore(fresh_lab.inventory)
    assert crmdr("backup", "wal", "install", "--inventory", str(fresh_lab.inventory_path)).returncode == 0
    backup = crmdr("backup", "run", "--kind", "physical", "--inventory", str(fresh_lab.inventory_path))
    assert backup.returncode == 0, backup.stderr
    streamer = _stream(fresh_lab, tmp_path / "stream")
    try:
        with connect(db.primary.host, db.primary.pg_port, user=db.user, password=fresh_lab.password,
                     dbname=db.name) as conn:
            _until(lambda: _slot_active(conn), "the stream's slot active")
            conn.execute("CREATE TABLE stream_probe (id int)")
            switched = conn.execute("SELECT pg_walfile_name(pg_switch_wal())").fetchone()[0]
            for _ in range(10):  # writes over 3 s: the partial goes up in several chunks
                conn.execute("INSERT INTO stream_probe SELECT generate_series(1, 200)")
                time.sleep(0.3)
            with conn.transaction():
                xid = conn.execute("INSERT INTO stream_probe VALUES (-1) RETURNING txid_current()").fetchone()[0]
            name, offset = conn.execute("SELECT file_name, file_offset FROM "
                                        "pg_walfile_name_offset(pg_current_wal_lsn())").fetchone()
        committed = time.monotonic()
        partial = partial_prefix(f"{name}.partial")
        lag = _until(lambda: len(_stored(store, partial)) >= offset, f"{partial} covering offset {offset}")
        print(f"commit to its bytes in the bucket: {lag:.2f} s (--partial-every 1s)")
        time.sleep(max(0.0, 2.5 - (time.monotonic() - committed)))
        subprocess.run(as_service_user([f"{pg_bin_dir()}/pg_ctl", "stop", "-m", "immediate", "-D",
                                        str(LabPaths(fresh_lab.dir).data_dir("primary"))]), check=True,
                       capture_output=True)

        segment = store.get_bytes(wal_key(switched))
        stored = store.head(wal_key(switched))
        assert stored is not None and stored.sha256 == hashlib.sha256(segment).hexdigest()
        assert len(segment) == SEGMENT_SIZE and stored.retain_until is not None  # locked like the archiver's
        assert store.head(wal_key(name)) is None  # the commit's segment never completed
        body = _stored(store, partial)
        chunks = store.list(partial)
        assert len(body) >= offset and len(chunks) >= 2
        assert sum(c.size for c in chunks) <= len(body) + len(chunks) * WAL_PAGE  # each byte sent about once
        (tmp_path / name).write_bytes(body.ljust(SEGMENT_SIZE, b"\0"))  # a restore pads it the same way
        assert re.search(rf"tx:\s+{xid}, .*desc: COMMIT", _commits(tmp_path / name)), \
            f"transaction {xid}'s commit is not in the stored partial {partial}"
    finally:
        streamer.send_signal(signal.SIGTERM)
        out, err = streamer.communicate(timeout=60)
    assert streamer.returncode == 128 + signal.SIGTERM, err
    report = json.loads(out)
    assert switched in report["segments"] and report["partial"] == f"{name}.partial", report
    assert "stopped by SIGTERM" in err and SLOT in err

    restored = run(fresh_lab, "restore", tmp_path / "journal", "--latest", "--target", "standby", "--yes", "--json")
    assert restored.returncode == 0, restored.stdout + restored.stderr
    result = json.loads(restored.stdout)
    partial_replay = result["evidence"]["streamed_partial"]
    assert _restored_probe(fresh_lab) == 1  # committed 2.5 s before the crash, in no completed segment
    # Without the partial the replay ends with the archived segment before the commit's (wal/<name> is not
    # stored): the row is there only because the streamed bytes up to the commit were replayed.
    assert partial_replay["segment"] == name and partial_replay["after_archived"] < name
    assert partial_replay["replayed"] is True and partial_replay["replayed_to_byte"] >= offset, partial_replay
    assert store.head(wal_key(name)) is None
    assert f"The last segment replayed, {name}, was a streamed partial" in result["message"]


def test_the_stream_follows_a_failover_to_the_new_primary(fresh_lab: Lab, tmp_path: Path) -> None:
    """WHEN the primary is failed over while streaming, THEN the stream finds the new primary by itself,
    makes its slot there and stores the new timeline's partial segment with a commit made on it."""
    db, store = fresh_lab.inventory.database, S3ObjectStore(fresh_lab.inventory)
    streamer = _stream(fresh_lab, tmp_path / "stream")
    try:
        with connect(db.primary.host, db.primary.pg_port, user=db.user, password=fresh_lab.password,
                     dbname=db.name) as conn:
            _until(lambda: _slot_active(conn), "the stream's slot active on the primary")
        failed_over = run(fresh_lab, "failover", tmp_path / "journal", "--yes", "--json")
        assert failed_over.returncode == 0, failed_over.stdout + failed_over.stderr
        with connect(db.standby.host, db.standby.pg_port, user=db.user, password=fresh_lab.password,
                     dbname=db.name) as conn:
            _until(lambda: _slot_active(conn), "the stream's slot active on the new primary", wait=60.0)
            conn.execute("CREATE TABLE follow_probe AS SELECT generate_series(1, 100) AS id")
            name, offset = conn.execute("SELECT file_name, file_offset FROM "
                                        "pg_walfile_name_offset(pg_current_wal_lsn())").fetchone()
        assert int(name[:8], 16) >= 2  # the new primary's timeline
        partial = partial_prefix(f"{name}.partial")
        _until(lambda: len(_stored(store, partial)) >= offset, f"{partial} covering offset {offset}")
        assert store.head(wal_key(f"{name[:8]}.history")) is not None  # streamed too: no archive_command here
    finally:
        streamer.send_signal(signal.SIGTERM)
        out, err = streamer.communicate(timeout=60)
    assert streamer.returncode == 128 + signal.SIGTERM, err
    report = json.loads(out)
    assert report["streamed_from"][0] == db.primary.name and report["streamed_from"][-1] == db.standby.name, report
    assert report["partial"] == f"{name}.partial", report
    assert "looking for the primary" in err and "set aside" in err, err
