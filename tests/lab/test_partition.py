"""A partition where the old primary stays alive behind the cut: no split brain through the DNS name."""

import socket
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from drills.failover.probe import ProbeSettings, WriteProbe, committed_ids
from drills.lab import netfault
from recovery.adapters import local_firewall
from recovery.adapters.postgres import connect
from recovery.adapters.route53_dns import Route53Dns
from recovery.runbooks.journal.files import read_events
from tests.lab.conftest import Lab
from tests.lab.runbook_helpers import result, roles, run, write_through_name

pytestmark = [pytest.mark.lab, pytest.mark.slow]


def until(condition: Callable[[], bool], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.05)


def reachable(address: str, port: int) -> bool:
    try:
        with socket.create_connection((address, port), timeout=1):
            return True
    except OSError:
        return False


def probe_rows(lab: Lab, address: str, writer: str) -> tuple[bool, set[int]]:
    """(in recovery?, probe ids) read straight from one node, not through the name."""
    with connect(address, lab.settings.pg_port, user="crmdr", password=lab.password, dbname="crm") as conn:
        in_recovery = conn.execute("SELECT pg_is_in_recovery()").fetchone()
        rows = conn.execute("SELECT id FROM crmdr_probe WHERE writer = %s", (writer,)).fetchall()
    return bool(in_recovery and in_recovery[0]), {int(r[0]) for r in rows}


@pytest.mark.lab_settings(synchronous=True)
def test_cut_off_primary_takes_no_acknowledged_write_and_is_fenced_not_promoted(
        fresh_lab: Lab, tmp_path: Path) -> None:
    primary, standby = str(fresh_lab.settings.primary_ip), str(fresh_lab.settings.standby_ip)
    probe = WriteProbe(fresh_lab.inventory, ProbeSettings(rate=50, writer="partition"))
    probe.start()
    try:
        until(lambda: sum(w.outcome == "acknowledged" for w in probe.ledger) >= 10)
        # GIVEN the primary cut off the network while its PostgreSQL keeps running
        netfault.cut(primary)
        # WHEN the failover runs during the cut
        done = result(run(fresh_lab, "failover", tmp_path / "first", "--yes", "--json"))
        # THEN the name points at the standby and writes through it land there
        assert Route53Dns(fresh_lab.inventory).resolve() == standby
        assert write_through_name(fresh_lab, 4242) == standby
        until(lambda: any(w.outcome == "acknowledged" and w.address == standby for w in probe.ledger))
    finally:
        ledger = probe.stop()
        netfault.heal(primary)
    fence = next(e for e in read_events(done["run_id"], tmp_path / "first") if e.step == "fence"
                 and e.status == "succeeded")
    assert "isolated" in fence.evidence and primary in fence.evidence
    assert not reachable(primary, fresh_lab.settings.pg_port), "the isolation outlives the healed network"

    # Look behind the fence (lift the isolation by hand): the old primary is a live, stale primary.
    local_firewall.heal(primary, local_firewall.ISOLATION)
    old_in_recovery, on_old = probe_rows(fresh_lab, primary, probe.run_writer)
    assert old_in_recovery is False
    on_new = committed_ids(fresh_lab.inventory, probe.run_writer)
    acknowledged = {w.id for w in ledger if w.outcome == "acknowledged"}
    assert acknowledged <= on_new, "every acknowledged write is on the new primary"
    assert not (on_old - on_new) & acknowledged, "no acknowledged write exists only on the old primary"
    assert all(w.address == standby for w in ledger if w.outcome == "acknowledged" and w.id not in on_old)

    # A re-run once the old primary is reachable again fences it; it is not promoted again.
    again = result(run(fresh_lab, "failover", tmp_path / "again", "--yes", "--json"))
    assert again["primary"] == "standby"
    assert roles(fresh_lab) == {"primary": "down", "standby": "primary"}
    assert Route53Dns(fresh_lab.inventory).resolve() == standby
    assert (Path(fresh_lab.inventory.database.primary.data_dir) / "standby.signal").exists()  # type: ignore[union-attr]
