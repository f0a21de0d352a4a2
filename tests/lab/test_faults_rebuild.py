"""Failback's rebuild cut in the middle of pg_rewind, then of pg_basebackup (issue 18, item 3).

The rebuild runs pg_rewind (else pg_basebackup) on the old primary's host, reading from the
current primary. The test waits until that process runs in the old primary's namespace and has
written part of a large relation file into the data directory, stops it (SIGSTOP) so the cut
lands mid-transfer whatever the machine's speed, cuts the current primary off (`crmdr lab cut`,
every peer and the operator), lets the process go on, and expects: failback fails within the
tool's timeouts naming the step and the host, every write the current primary acknowledged is
still there, and after `lab heal`, `failback --resume RUN` converges to the original roles.
"""

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from drills.failover.probe import ProbeSettings, WriteProbe
from drills.lab import network
from drills.lab.settings import LabPaths
from recovery.adapters.postgres import connect
from tests.conftest import ROOT
from tests.lab.conftest import Lab, needs_netns
from tests.lab.runbook_helpers import only_run, result, roles, run, write_through_name
from tests.lab.test_faults_netns import acked, lab_cut, rows_on, wait_for

pytestmark = [pytest.mark.lab, pytest.mark.slow, needs_netns]

TOOL_LIMIT = 180.0
"""Longer than the rebuild's own timeouts under a cut (connect 10 s, keepalive/tcp_user_timeout 15 s,
SSH keepalive): a process still running then is a hang."""
BULK_ROWS = 150_000
"""~170 MB of uncompressed rows (1 kB each, below the TOAST threshold): a transfer the test can catch."""
CAUGHT_AT = 16 * 1024 * 1024


@dataclass(frozen=True)
class Bulk:
    relpath: str
    size: int


def _sql(lab: Lab, address: str, *statements: str | tuple[str, tuple[Any, ...]]) -> Any:
    """Run each statement (or statement and parameters); the last one's first row."""
    db = lab.inventory.database
    row = None
    with connect(address, lab.settings.pg_port, user=db.user, password=lab.password, dbname=db.name) as conn:
        for statement in statements:
            sql, params = statement if isinstance(statement, tuple) else (statement, ())
            cursor = conn.execute(sql, params)
            row = cursor.fetchone() if cursor.description else None
    return row


def _fork(lab: Lab, tmp_path: Path) -> None:
    """Writes the standby never receives, then a failover accepting their loss: the old primary's WAL
    goes past the fork, so pg_rewind has real work to do."""
    primary = str(lab.settings.primary_ip)
    lab_cut(lab, "cut", "standby", "--from", "primary")
    lab_cut(lab, "cut", "primary", "--from", "standby")
    try:
        _sql(lab, primary, "INSERT INTO crmdr_probe (id, writer) SELECT g, 'crmdr-forked' FROM generate_series(1, 500) g")
        done = result(run(lab, "failover", tmp_path / "failover", "--yes", "--accept-data-loss", "--json"))
        assert done["primary"] == "standby"
    finally:
        lab_cut(lab, "heal")


def _bulk(lab: Lab) -> Bulk:
    """A large table written on the current primary after the fork: the rebuild must copy it."""
    row = _sql(lab, str(lab.settings.standby_ip),
               "CREATE TABLE crmdr_bulk (g int, pad text)",
               ("INSERT INTO crmdr_bulk SELECT g, repeat('x', 1000) FROM generate_series(1, %s) g", (BULK_ROWS,)),
               "CHECKPOINT",
               "SELECT pg_relation_filepath('crmdr_bulk'), pg_relation_size('crmdr_bulk')")
    return Bulk(str(row[0]), int(row[1]))


def _process_in(lab: Lab, node: str, program: str) -> int | None:
    """The pid of `program` working on `node`'s data directory inside `node`'s namespace."""
    ns = network.host_namespace(LabPaths(lab.dir), node)
    assert ns, "not a namespaced lab"
    data_dir = str(LabPaths(lab.dir).data_dir(node))
    pids = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True, check=True).stdout.split()
    for pid in pids:
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv and argv[0].decode().endswith(f"/{program}") and any(data_dir in a.decode() for a in argv):
            return int(pid)
    return None


def _cut_mid_transfer(lab: Lab, program: str, bulk: Bulk, failback: subprocess.Popen[str]) -> float:
    """Stop `program` once CAUGHT_AT bytes of the bulk file arrived, cut the current primary, resume it."""
    target = LabPaths(lab.dir).data_dir("primary") / bulk.relpath
    deadline = time.monotonic() + 120
    while True:
        assert failback.poll() is None, f"failback ended before {program} copied the bulk table: {failback.stderr}"
        assert time.monotonic() < deadline, f"{program} never copied {CAUGHT_AT} bytes of the bulk table"
        pid = _process_in(lab, "primary", program)
        if pid and target.exists() and target.stat().st_size >= CAUGHT_AT:
            break
        time.sleep(0.005)
    os.kill(pid, signal.SIGSTOP)
    try:
        copied = target.stat().st_size
        if copied >= bulk.size:
            pytest.fail(f"{program} had copied the whole bulk table ({copied} bytes) before it could be cut")
        lab_cut(lab, "cut", "standby")
        cut_at = time.monotonic()
    finally:
        os.kill(pid, signal.SIGCONT)
    print(f"{program} stopped and cut after {copied} of {bulk.size} bytes of the bulk table")
    return cut_at


def _failback(lab: Lab, journal: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "crmdr", "failback", "--yes", "--inventory", str(lab.inventory_path),
         "--journal-dir", str(journal), *args],
        env={**os.environ, "PYTHONFAULTHANDLER": "1"}, cwd=ROOT,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _cut_during(lab: Lab, program: str, bulk: Bulk, process: subprocess.Popen[str]) -> tuple[str, float]:
    """Cut the current primary mid-`program`; the failback's stderr and seconds from cut to exit."""
    try:
        cut_at = _cut_mid_transfer(lab, program, bulk, process)
        try:
            _, err = process.communicate(timeout=TOOL_LIMIT)
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGABRT)  # PYTHONFAULTHANDLER: every thread's stack, to find the hang
            pytest.fail(f"failback hung: still running {TOOL_LIMIT:g}s after the cut: {process.communicate()[1][-6000:]}")
        seconds = time.monotonic() - cut_at
    finally:
        if process.poll() is None:
            process.kill()
        lab_cut(lab, "heal")
    print(f"failback cut mid {program}: exit {process.returncode} {seconds:.1f}s after the cut: {err.strip()}")
    assert process.returncode == 1, err
    assert "rebuild" in err and "standby" in err and program in err and "Traceback" not in err, err
    return err, seconds


def test_failback_cut_mid_pg_rewind_then_mid_pg_basebackup_fails_naming_it_keeps_the_data_and_resume_converges(
        fresh_lab: Lab, tmp_path: Path, record_property: Any) -> None:
    """GIVEN an old primary whose WAL forked from the current one and writes going on, WHEN the current
    primary is cut off while pg_rewind copies a large table from it, THEN failback fails naming the
    rebuild and the host, and nothing acknowledged is lost; WHEN its resume re-clones (a half-done
    rewind is never rewound again) and the cut comes in the middle of pg_basebackup, THEN the same;
    and the next `--resume` converges to the original roles with every acknowledged write.

    It found a resume refused for good after a rewind cut off half-way (pg_rewind had half-copied the
    source's settings file, so the host no longer answered as itself), and a re-clone from an
    unreachable primary that hid the rewind's failure."""
    lab, journal = fresh_lab, tmp_path / "failback"
    _fork(lab, tmp_path)
    bulk = _bulk(lab)
    probe = WriteProbe(lab.inventory, ProbeSettings(rate=50.0, writer="crmdr-rebuild-cut"))
    probe.start()
    try:
        wait_for("50 writes acknowledged by the current primary", lambda: acked(probe.ledger) >= 50)
        err, rewind_seconds = _cut_during(lab, "pg_rewind", bulk, _failback(lab, journal))
        assert "does not answer" in err, "a re-clone was tried from the cut-off primary"
        run_id = only_run(journal)[0].run
        err, clone_seconds = _cut_during(lab, "pg_basebackup", bulk, _failback(lab, journal, "--resume", run_id))
        assert "did not finish" in err, err
    finally:
        ledger = probe.stop()
    record_property("seconds_cut_mid_pg_rewind_to_exit", round(rewind_seconds, 1))
    record_property("seconds_cut_mid_pg_basebackup_to_exit", round(clone_seconds, 1))
    acknowledged = {w.id for w in ledger if w.outcome == "acknowledged"}
    standby, primary = str(lab.settings.standby_ip), str(lab.settings.primary_ip)
    lost = acknowledged - rows_on(lab, standby, probe.run_writer)
    assert acknowledged and not lost, f"the current primary lost acknowledged writes: {sorted(lost)}"

    resumed = run(lab, "failback", journal, "--yes", "--resume", run_id)
    assert resumed.returncode == 0, resumed.stderr
    assert roles(lab) == {"primary": "primary", "standby": "standby"}
    assert write_through_name(lab, 18_003) == primary
    assert not acknowledged - rows_on(lab, primary, probe.run_writer), "failback lost acknowledged writes"
    assert _sql(lab, primary, "SELECT count(*) FROM crmdr_bulk")[0] == BULK_ROWS
