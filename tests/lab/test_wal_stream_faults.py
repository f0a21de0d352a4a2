"""`crmdr backup wal stream` when pg_receivewal cannot run or ends.

On one lab of their own (each test leaves the slots as it found them). Slot creation refused at the
start (a wrong replication password; every replication slot in use): the stream stops with one
sentence naming pg_receivewal and what it said, exit 1 (HostError), never a traceback.
pg_receivewal ending later (killed with SIGKILL, as the OOM killer does; the primary stopped) does
not end the stream: it warns how pg_receivewal ended and what it said in this run, looks for the
primary again (`--no-loop`: the stream, not pg_receivewal, decides where to stream from, so it can
follow a failover) and streams on.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from drills.lab import postgres
from drills.lab.settings import LabPaths
from drills.lab.system import pg_bin_dir
from recovery.adapters.postgres import connect
from recovery.wal.streamer import SLOT
from tests.conftest import ROOT
from tests.lab.conftest import Lab, module_lab

pytestmark = [pytest.mark.lab, pytest.mark.slow]
LIMIT = 60.0


stream_lab = module_lab(9, "Each test leaves the slots as it found them, the primary running.", rows=10)


def _sql(lab: Lab, query: str, *params: object) -> list[tuple[object, ...]]:
    db = lab.inventory.database
    with connect(str(lab.settings.primary_ip), lab.settings.pg_port, user=db.user, password=lab.password,
                 dbname=db.name) as conn:
        cursor = conn.execute(query, params)
        return cursor.fetchall() if cursor.description else []


def _drop_stream_slot(lab: Lab) -> None:
    """Drop the stream's slot once its walsender is gone (it stays active a moment after the kill)."""
    deadline = time.monotonic() + LIMIT
    while _sql(lab, "SELECT 1 FROM pg_replication_slots WHERE slot_name = %s AND active", SLOT):
        assert time.monotonic() < deadline, f"slot {SLOT} still active"
        time.sleep(0.1)
    _sql(lab, "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = %s", SLOT)


def _stream(inventory: Path, directory: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "crmdr", "backup", "wal", "stream", "--inventory", str(inventory),
         "--dir", str(directory), "--partial-every", "1s"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)


def _stop(process: subprocess.Popen[str]) -> str:
    """SIGTERM, so the stream stops its pg_receivewal too (SIGKILL would leave it running); its stderr."""
    if process.poll() is not None:
        return ""
    process.terminate()
    return process.communicate(timeout=LIMIT)[1]


def _refused(process: subprocess.Popen[str]) -> str:
    """The stream's one error line: exit 1 within LIMIT, no traceback."""
    try:
        _, err = process.communicate(timeout=LIMIT)
    finally:
        _stop(process)
    assert process.returncode == 1 and "Traceback" not in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("crmdr: pg_receivewal "), err
    print(f"stream stopped: {lines[0]}")
    return lines[0]


def test_wrong_replication_password_stops_the_stream_naming_pg_receivewal_and_its_error(
        stream_lab: Lab, tmp_path: Path) -> None:
    wrong = tmp_path / "wrong_password"
    wrong.write_text("not-the-password\n")
    wrong.chmod(0o600)
    data = json.loads(stream_lab.inventory_path.read_text())
    data["database"]["replication_password"] = {"file": str(wrong)}
    inventory = tmp_path / "inventory.json"
    inventory.write_text(json.dumps(data))
    line = _refused(_stream(inventory, tmp_path / "stream"))
    user = stream_lab.inventory.database.replication_user
    assert f"could not create slot {SLOT} on primary" in line, line
    assert f'password authentication failed for user "{user}"' in line, line
    assert "not-the-password" not in line
    assert not _sql(stream_lab, "SELECT 1 FROM pg_replication_slots WHERE slot_name = %s", SLOT)


def test_every_replication_slot_in_use_stops_the_stream_naming_pg_receivewal_and_its_error(
        stream_lab: Lab, tmp_path: Path) -> None:
    (limit,) = _sql(stream_lab, "SELECT setting::int FROM pg_settings WHERE name = 'max_replication_slots'")[0]
    (used,) = _sql(stream_lab, "SELECT count(*) FROM pg_replication_slots")[0]
    fillers = [f"crmdr_test_fill_{n}" for n in range(int(str(limit)) - int(str(used)))]
    try:
        for name in fillers:
            _sql(stream_lab, "SELECT pg_create_physical_replication_slot(%s)", name)
        line = _refused(_stream(stream_lab.inventory_path, tmp_path / "stream"))
    finally:
        for name in fillers:
            _sql(stream_lab, "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
                             "WHERE slot_name = %s", name)
    assert f"could not create slot {SLOT} on primary" in line and "all replication slots are in use" in line, line


def _wait_active(lab: Lab, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + LIMIT
    while not _sql(lab, "SELECT 1 FROM pg_replication_slots WHERE slot_name = %s AND active", SLOT):
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, f"slot {SLOT} never active"
        time.sleep(0.1)


def test_pg_receivewal_killed_is_said_with_how_it_ended_and_the_stream_streams_on(
        stream_lab: Lab, tmp_path: Path) -> None:
    """The log is appended to across runs: a line an earlier run wrote is not what this one said."""
    directory = tmp_path / "stream"
    directory.mkdir()
    (directory / "pg_receivewal.log").write_text("pg_receivewal: error: an earlier run's last words\n")
    process = _stream(stream_lab.inventory_path, directory)
    try:
        _wait_active(stream_lab, process)
        (receiver,) = Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text().split()
        assert "pg_receivewal" in Path(f"/proc/{receiver}/cmdline").read_text()
        os.kill(int(receiver), signal.SIGKILL)
        _wait_new_receiver(stream_lab, process, int(receiver))
    finally:
        err = _stop(process)
        _drop_stream_slot(stream_lab)
    assert process.returncode == 128 + signal.SIGTERM, err
    warned = [line for line in err.splitlines() if "pg_receivewal from primary was killed by SIGKILL" in line]
    assert len(warned) == 1 and "looking for the primary" in warned[0], err
    assert "earlier run" not in err, err


def _wait_new_receiver(lab: Lab, process: subprocess.Popen[str], killed: int) -> None:
    """The stream started another pg_receivewal and its slot is active again."""
    deadline = time.monotonic() + LIMIT
    children = Path(f"/proc/{process.pid}/task/{process.pid}/children")
    while str(killed) in children.read_text().split() or not children.read_text().split():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "no new pg_receivewal"
        time.sleep(0.1)
    _wait_active(lab, process)


def test_a_stopped_primary_does_not_end_the_stream_which_streams_again_once_it_is_back(
        stream_lab: Lab, tmp_path: Path) -> None:
    """pg_receivewal (--no-loop) exits with the primary; the stream looks for it, backing off, and goes on."""
    paths, settings = LabPaths(stream_lab.dir), stream_lab.settings
    process = _stream(stream_lab.inventory_path, tmp_path / "stream")
    try:
        _wait_active(stream_lab, process)
        postgres.stop(paths, "primary", pg_bin_dir())
        try:
            time.sleep(7)  # several looks for a primary while none answers
            assert process.poll() is None, process.communicate()
        finally:
            postgres.start(paths, "primary", str(settings.primary_ip), settings.pg_port, pg_bin_dir())
        _wait_active(stream_lab, process)
    finally:
        err = _stop(process)
        _drop_stream_slot(stream_lab)
    assert process.returncode == 128 + signal.SIGTERM, err
    assert "pg_receivewal from primary exited" in err and "looking for the primary" in err, err
