"""Failover and switchover while a steady write load runs through the DNS name (issue 7, item 4).

Several probe writers insert hundreds of rows per second through the name, as an application's
pool would. After the role change every acknowledged id is compared with the rows read
directly from the new primary (not through the name): synchronous replication and switchover
lose none; asynchronous failover may lose some, and the measurement must report exactly those.
Figures (writes checked, writes/s, acknowledged lost) go to the junit properties and stdout.
"""

import subprocess
import time
from collections.abc import Callable
from dataclasses import replace

import pytest

from drills.failover.measure import Disruption, Write, measure
from drills.failover.probe import ProbeSettings, WriteProbe, committed_ids
from drills.lab.settings import LabPaths
from drills.lab.system import as_service_user, pg_bin_dir
from recovery.adapters.postgres import connect
from tests.lab.conftest import Lab
from tests.lab.runbook_helpers import report, result, roles, run

pytestmark = [pytest.mark.lab, pytest.mark.slow]

LOAD = ProbeSettings(rate=400.0, writers=4, writer="crmdr-load")
STEADY_WRITES = 1500
AFTER_WRITES = 500
WAIT = 60.0


def _acked(ledger: tuple[Write, ...], address: str | None = None, after: float = 0.0) -> int:
    return sum(1 for w in ledger if w.outcome == "acknowledged" and w.sent_mono >= after
               and (address is None or w.address == address))


def _wait_for(probe: WriteProbe, enough: Callable[[tuple[Write, ...]], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not enough(probe.ledger):
        assert time.monotonic() < deadline, f"the load never reached: {what}"
        time.sleep(0.05)


def _crash_primary(lab: Lab) -> Disruption:
    """`pg_ctl stop -m immediate`: the primary dies with whatever WAL it has not yet shipped."""
    data_dir = LabPaths(lab.dir).data_dir("primary")
    started_wall, started = time.time(), time.monotonic()
    subprocess.run(as_service_user([f"{pg_bin_dir()}/pg_ctl", "stop", "-m", "immediate", "-D", str(data_dir)]),
                   check=True, capture_output=True)
    return Disruption(started_mono=started, started_wall=started_wall, effective_mono=time.monotonic())


def _rows_on(lab: Lab, address: str, writer: str) -> set[int]:
    """The probe rows the node at `address` holds, read from it directly (the truth)."""
    db = lab.inventory.database
    with connect(address, db.primary.pg_port, user=db.user, password=lab.password, dbname=db.name) as conn:
        return {int(r[0]) for r in conn.execute("SELECT id FROM crmdr_probe WHERE writer = %s", (writer,))}


def _under_load(lab: Lab, change: Callable[[], Disruption | None], probe: WriteProbe | None = None,
                ) -> tuple[WriteProbe, tuple[Write, ...], Disruption]:
    """Steady load, the role change, load again on the new primary; returns the final ledger."""
    new_primary = str(lab.settings.standby_ip)
    probe = probe or WriteProbe(lab.inventory, LOAD)
    probe.start()
    try:
        _wait_for(probe, lambda ledger: _acked(ledger) >= STEADY_WRITES, f"{STEADY_WRITES} acknowledged writes")
        now_wall, now = time.time(), time.monotonic()
        disruption = change() or Disruption(started_mono=now, started_wall=now_wall, effective_mono=now)
        _wait_for(probe, lambda ledger: _acked(ledger, new_primary, disruption.effective_mono) >= AFTER_WRITES,
                  f"{AFTER_WRITES} writes acknowledged by the new primary")
    finally:
        ledger = probe.stop()
    assert len({w.id for w in ledger}) == len(ledger), "two writers used the same id"
    return probe, ledger, disruption


def _record(record_property: Callable[[str, object], None], name: str, ledger: tuple[Write, ...],
            disruption: Disruption, lost: int) -> None:
    """Writes/s is the steady rate before the role change; writes checked are all acknowledged ids."""
    acked = [w for w in ledger if w.outcome == "acknowledged"]
    before = [w for w in acked if w.done_mono <= disruption.started_mono]
    span = disruption.started_mono - min(w.sent_mono for w in ledger)
    figures = {"writes_checked": len(acked), "writes_per_second": round(len(before) / span, 1),
               "acknowledged_lost": lost, "failed": sum(w.outcome == "failed" for w in ledger),
               "unknown": sum(w.outcome == "unknown" for w in ledger)}
    report(record_property, f"under load [{name}]", figures)


def _failover(lab: Lab, journal: str, *extra: str) -> Disruption:
    disruption = _crash_primary(lab)
    result(run(lab, "failover", lab.dir / journal, "--yes", "--json", *extra))
    return disruption


@pytest.mark.lab_settings(synchronous=True)
def test_sync_failover_under_load_loses_no_acknowledged_write(fresh_lab: Lab, record_property: Callable) -> None:
    probe, ledger, disruption = _under_load(fresh_lab, lambda: _failover(fresh_lab, "runs"))

    assert roles(fresh_lab) == {"primary": "down", "standby": "primary"}
    acked = {w.id for w in ledger if w.outcome == "acknowledged"}
    truth = _rows_on(fresh_lab, str(fresh_lab.settings.standby_ip), probe.run_writer)
    assert acked - truth == set(), f"acknowledged writes lost under synchronous replication: {sorted(acked - truth)}"
    measured = measure(ledger, committed_ids(fresh_lab.inventory, probe.run_writer), disruption)
    assert measured.lost_ids == () and measured.failed_but_committed == ()
    _record(record_property, "sync failover", ledger, disruption, len(acked - truth))


def _set_standby_replication(lab: Lab, on: bool) -> None:
    """Stop (or restart) the standby's WAL receiver; stopped, the asynchronous primary goes on
    acknowledging commits the standby never sees. (A cut of the standby's address would not stop
    it: its connection to the primary leaves from 127.0.0.1.)"""
    db = lab.inventory.database
    with connect(str(lab.settings.standby_ip), db.standby.pg_port, user=db.user, password=lab.password,
                 dbname=db.name) as conn:
        conn.execute("ALTER SYSTEM RESET primary_conninfo" if on else "ALTER SYSTEM SET primary_conninfo = ''")
        conn.execute("SELECT pg_reload_conf()")
        deadline = time.monotonic() + WAIT
        while not on and conn.execute("SELECT count(*) FROM pg_stat_wal_receiver").fetchone() != (0,):
            assert time.monotonic() < deadline, "the standby's WAL receiver did not stop"
            time.sleep(0.05)


def _lag_then_crash(lab: Lab, probe: WriteProbe) -> Disruption:
    """Replication stops, writes go on, the primary crashes, failover with accepted data loss."""
    _set_standby_replication(lab, on=False)
    stopped_at = time.monotonic()
    _wait_for(probe, lambda ledger: _acked(ledger, after=stopped_at) >= AFTER_WRITES,
              f"{AFTER_WRITES} writes acknowledged while replication was stopped")
    disruption = _crash_primary(lab)
    _set_standby_replication(lab, on=True)
    result(run(lab, "failover", lab.dir / "runs", "--yes", "--json", "--accept-data-loss"))
    return replace(disruption, started_mono=stopped_at)


def test_async_failover_of_a_lagging_standby_reports_exactly_the_lost_writes(
        fresh_lab: Lab, record_property: Callable) -> None:
    probe = WriteProbe(fresh_lab.inventory, LOAD)
    _, ledger, disruption = _under_load(fresh_lab, lambda: _lag_then_crash(fresh_lab, probe), probe)

    acked = {w.id for w in ledger if w.outcome == "acknowledged"}
    missing = acked - _rows_on(fresh_lab, str(fresh_lab.settings.standby_ip), probe.run_writer)
    unreplicated = {w.id for w in ledger if w.outcome == "acknowledged"
                    and disruption.started_mono <= w.sent_mono < disruption.effective_mono}
    assert unreplicated and unreplicated <= missing, "writes acknowledged with replication stopped survived"
    measured = measure(ledger, committed_ids(fresh_lab.inventory, probe.run_writer), disruption)
    assert set(measured.lost_ids) == missing
    assert measured.rpo_seconds > 0
    _record(record_property, "async failover, lagging standby", ledger, disruption, len(missing))


def _switchover(lab: Lab) -> None:
    result(run(lab, "switchover", lab.dir / "runs", "--yes", "--json"))


@pytest.mark.parametrize("mode", [pytest.param("sync", marks=pytest.mark.lab_settings(synchronous=True)), "async"])
def test_switchover_under_load_loses_no_acknowledged_write(fresh_lab: Lab, record_property: Callable,
                                                           mode: str) -> None:
    probe, ledger, disruption = _under_load(fresh_lab, lambda: _switchover(fresh_lab))

    assert fresh_lab.settings.synchronous is (mode == "sync")
    assert roles(fresh_lab) == {"primary": "standby", "standby": "primary"}
    acked = {w.id for w in ledger if w.outcome == "acknowledged"}
    missing = acked - _rows_on(fresh_lab, str(fresh_lab.settings.standby_ip), probe.run_writer)
    assert acked and missing == set(), f"switchover lost acknowledged writes: {sorted(missing)}"
    _record(record_property, f"switchover {mode}", ledger, disruption, 0)
