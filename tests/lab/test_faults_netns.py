"""The faults only a namespaced lab can make (issue 18, item 3): a cut that holds for every peer.

Each test cuts with `crmdr lab cut` (iptables inside a host's namespace, drills/lab/cuts.py),
the way a game day would, and checks what crm-dr says against what the hosts hold.
"""

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from drills.failover.measure import Disruption, Write, measure
from drills.failover.probe import ProbeSettings, WriteProbe, committed_ids
from recovery.adapters.postgres import connect
from tests.conftest import ROOT, crmdr
from tests.lab.conftest import Lab, needs_netns
from tests.lab.runbook_helpers import only_run, report, result, roles, run, write_through_name
from tests.lab.test_failover_lag import strict_policy

pytestmark = [pytest.mark.lab, pytest.mark.slow, needs_netns]

LOAD = ProbeSettings(rate=100.0, writers=2, writer="crmdr-cut")
WAIT = 60.0


def lab_cut(lab: Lab, *args: str) -> dict[str, Any]:
    done = crmdr("lab", *args, "--dir", str(lab.dir), "--json")
    assert done.returncode == 0, done.stderr
    data: dict[str, Any] = json.loads(done.stdout)
    return data


def acked(ledger: tuple[Write, ...], address: str | None = None, after: float = 0.0) -> int:
    return sum(1 for w in ledger if w.outcome == "acknowledged" and w.sent_mono >= after
               and (address is None or w.address == address))


def wait_for(what: str, condition: Callable[[], bool], seconds: float = WAIT) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"not within {seconds:g}s: {what}"
        time.sleep(0.1)


def replay_age(lab: Lab) -> float:
    """Seconds since the standby last replayed a commit, read from the standby itself."""
    db = lab.inventory.database
    with connect(str(lab.settings.standby_ip), lab.settings.pg_port, user=db.user, password=lab.password,
                 dbname=db.name) as conn:
        row = conn.execute("SELECT extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float").fetchone()
    assert row and row[0] is not None
    return float(row[0])


def steps_done(journal: Path) -> set[tuple[str, str]]:
    """(step, status) of every event journalled so far, read while the run goes on."""
    lines = [line for f in journal.glob("*.jsonl") for line in f.read_text().splitlines()]
    found = set()
    for line in lines:
        try:
            event = json.loads(line)
        except ValueError:  # a line being written
            continue
        found.add((event["step"], event["status"]))
    return found


def rows_on(lab: Lab, address: str, writer: str) -> set[int]:
    db = lab.inventory.database
    with connect(address, lab.settings.pg_port, user=db.user, password=lab.password, dbname=db.name) as conn:
        return {int(r[0]) for r in conn.execute("SELECT id FROM crmdr_probe WHERE writer = %s", (writer,))}


def test_replication_cut_under_load_refused_then_accepted_and_the_lost_writes_counted_exactly(
        fresh_lab: Lab, tmp_path: Path, record_property: Any) -> None:
    """GIVEN an asynchronous pair under load, WHEN the link between primary and standby is cut (both
    ways, the operator still reaching both), THEN the standby's lag grows, a failover is refused
    (exit 3) until data loss is accepted, and the writes lost are exactly those the ledger counts."""
    primary, standby = str(fresh_lab.settings.primary_ip), str(fresh_lab.settings.standby_ip)
    probe = WriteProbe(fresh_lab.inventory, LOAD)
    probe.start()
    try:
        wait_for("200 acknowledged writes", lambda: acked(probe.ledger) >= 200)
        lab_cut(fresh_lab, "cut", "standby", "--from", "primary")
        lab_cut(fresh_lab, "cut", "primary", "--from", "standby")
        cut_at = time.monotonic()
        wait_for("200 writes acknowledged by the cut-off primary", lambda: acked(probe.ledger, primary, cut_at) >= 200)
        first = replay_age(fresh_lab)
        wait_for("the lag grows", lambda: replay_age(fresh_lab) > first + 1.0, 10)
        wait_for("past the walsender's timeout (10 s)", lambda: time.monotonic() - cut_at > 12, 15)

        refused = run(fresh_lab, "failover", tmp_path / "refused", "--yes")
        assert refused.returncode == 3, refused.stderr
        assert "--accept-data-loss" in refused.stderr and ("lags" in refused.stderr or "unknown" in refused.stderr)
        assert roles(fresh_lab) == {"primary": "primary", "standby": "standby"}, "a refused failover changed roles"

        refused_at = time.monotonic()
        done = result(run(fresh_lab, "failover", tmp_path / "accepted", "--yes", "--accept-data-loss", "--json"))
        assert done["primary"] == "standby"
        effective = time.monotonic()
        wait_for("100 writes on the new primary", lambda: acked(probe.ledger, standby, effective) >= 100)
    finally:
        ledger = probe.stop()
        lab_cut(fresh_lab, "heal")
    acknowledged = {w.id for w in ledger if w.outcome == "acknowledged"}
    missing = acknowledged - rows_on(fresh_lab, standby, probe.run_writer)
    after_cut = {w.id for w in ledger if w.outcome == "acknowledged" and w.address == primary
                 and w.sent_mono >= cut_at + 0.5}
    assert after_cut and after_cut <= missing, "a write acknowledged by the cut-off primary reached the standby"
    measured = measure(ledger, committed_ids(fresh_lab.inventory, probe.run_writer),
                       Disruption(started_mono=cut_at, started_wall=time.time() - (time.monotonic() - cut_at),
                                  effective_mono=effective))
    assert set(measured.lost_ids) == missing, "the measurement's lost writes differ from the missing ones"
    figures = {"acknowledged": len(acknowledged), "lost_counted": len(measured.lost_ids), "lost_true": len(missing),
               "seconds_cut_to_refusal": round(refused_at - cut_at, 1)}
    report(record_property, "replication cut under load", figures)


def test_replication_link_cut_during_switchover_never_promotes_early_and_completes_with_zero_loss(
        fresh_lab: Lab, tmp_path: Path) -> None:
    """GIVEN writes under way, WHEN the primary-standby link is cut just before the switchover stops
    writes, THEN the standby is not promoted while it cannot have caught up, and once the link heals
    the same run completes: roles swapped, every acknowledged write on the new primary. (It found the
    switchover stopping the primary for good while the standby could not receive its shutdown
    checkpoint: no primary. The catch-up now starts the old primary again and stops it once more.)"""
    journal, gate = tmp_path / "runs", tmp_path / "go"
    probe = WriteProbe(fresh_lab.inventory, ProbeSettings(rate=50.0, writer="crmdr-switch-cut"))
    probe.start()
    process = subprocess.Popen(
        [sys.executable, "-m", "crmdr", "switchover", "--yes", "--inventory", str(fresh_lab.inventory_path),
         "--journal-dir", str(journal)],
        env={**os.environ, "CRMDR_TEST_HOLD_AT": f"stop-writes:{gate}"}, cwd=ROOT,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for("the switchover took the lock", lambda: ("lock", "succeeded") in steps_done(journal))
        lab_cut(fresh_lab, "cut", "standby", "--from", "primary")
        lab_cut(fresh_lab, "cut", "primary", "--from", "standby")
        gate.touch()
        wait_for("writes stopped on the primary", lambda: ("stop-writes", "succeeded") in steps_done(journal), 90)
        time.sleep(3)  # the catch-up waits on a standby that cannot receive the shutdown checkpoint
        assert process.poll() is None
        assert roles(fresh_lab)["standby"] == "standby", "promoted before it could have caught up"
        lab_cut(fresh_lab, "heal")
        _, err = process.communicate(timeout=180)
    finally:
        if process.poll() is None:
            process.kill()
        ledger = probe.stop()
        lab_cut(fresh_lab, "heal")
    assert process.returncode == 0, err
    assert roles(fresh_lab) == {"primary": "standby", "standby": "primary"}
    acknowledged = {w.id for w in ledger if w.outcome == "acknowledged"}
    missing = acknowledged - committed_ids(fresh_lab.inventory, probe.run_writer)
    assert acknowledged and missing == set(), f"switchover under a cut lost acknowledged writes: {sorted(missing)}"


def test_lock_region_cut_mid_failover_stops_it_no_second_failover_starts_and_resume_converges(
        fresh_lab: Lab, tmp_path: Path, record_property: Any) -> None:
    """GIVEN a failover held just before it promotes, WHEN the AWS stand-in (the DR region: lock, DNS,
    bucket) is cut off, THEN the run fails naming a step and the resume command, a second failover
    cannot start during the cut, and
    `--resume` converges: one primary, the name on it."""
    journal, gate = tmp_path / "runs", tmp_path / "go"
    process = subprocess.Popen(
        [sys.executable, "-m", "crmdr", "failover", "--yes", "--inventory", str(fresh_lab.inventory_path),
         "--journal-dir", str(journal)],
        env={**os.environ, "CRMDR_TEST_HOLD_AT": f"promote:{gate}", "PYTHONFAULTHANDLER": "1"}, cwd=ROOT,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for("the failover fenced the old primary", lambda: ("fence", "succeeded") in steps_done(journal))
        lab_cut(fresh_lab, "cut", "aws")
        cut_at = time.monotonic()
        gate.touch()
        second = run(fresh_lab, "failover", tmp_path / "second", "--yes")
        _, err = process.communicate(timeout=240)
        seconds = time.monotonic() - cut_at
    finally:
        if process.poll() is None:
            process.kill()
        lab_cut(fresh_lab, "heal")
    record_property("seconds_cut_to_fail", round(seconds, 1))
    print(f"lock region cut mid-failover: failed {seconds:.1f}s after the cut")
    assert process.returncode != 0 and "--resume" in err and "Traceback" not in err, err
    assert second.returncode != 0 and "not reachable" in second.stderr, second.stderr
    assert not list((tmp_path / "second").glob("*.jsonl")), "a second failover started during the cut"

    run_id = only_run(journal)[0].run
    resumed = run(fresh_lab, "failover", journal, "--yes", "--resume", run_id)
    assert resumed.returncode == 0, resumed.stderr
    assert roles(fresh_lab)["standby"] == "primary" and roles(fresh_lab)["primary"] != "primary"
    assert write_through_name(fresh_lab, 18_018) == str(fresh_lab.settings.standby_ip)


def test_failover_in_the_first_seconds_of_a_replication_cut_sees_the_lag(fresh_lab: Lab, tmp_path: Path) -> None:
    """GIVEN writes going on and the replication link cut a few seconds ago (the primary still lists the
    standby, with its last, tiny replay_lag), WHEN a failover is asked for under a 1 s lag limit, THEN it
    is refused: the age of the standby's last reply counts as lag while WAL is unreplayed."""
    probe = WriteProbe(fresh_lab.inventory, ProbeSettings(rate=50.0, writer="crmdr-early-cut"))
    probe.start()
    try:
        wait_for("50 acknowledged writes", lambda: acked(probe.ledger) >= 50)
        lab_cut(fresh_lab, "cut", "standby", "--from", "primary")
        lab_cut(fresh_lab, "cut", "primary", "--from", "standby")
        time.sleep(4)  # well inside the lab's 10 s wal_sender_timeout
        refused = run(fresh_lab, "failover", tmp_path / "refused", "--yes", "--policy", str(strict_policy(tmp_path)))
    finally:
        probe.stop()
        lab_cut(fresh_lab, "heal")
    assert refused.returncode == 3, refused.stderr
    assert "lags" in refused.stderr and "--accept-data-loss" in refused.stderr
    assert roles(fresh_lab) == {"primary": "primary", "standby": "standby"}
