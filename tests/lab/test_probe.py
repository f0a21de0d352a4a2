"""The write probe against a real lab: heartbeats through the DNS name, ledger vs the table."""

import time

import pytest

from drills.failover.measure import Disruption, measure
from drills.failover.probe import ProbeSettings, WriteProbe, committed_ids
from tests.lab.conftest import NET, Lab

pytestmark = pytest.mark.lab


def test_probe_writes_through_dns_and_every_ack_is_in_the_table(shared_lab: Lab) -> None:
    probe = WriteProbe(shared_lab.inventory, ProbeSettings(rate=200))
    probe.start()
    deadline = time.monotonic() + 30
    while sum(w.outcome == "acknowledged" for w in probe.ledger) < 50:
        assert time.monotonic() < deadline, "the probe acknowledged fewer than 50 writes in 30 s"
        time.sleep(0.05)
    ledger = probe.stop()
    found = committed_ids(shared_lab.inventory, probe.run_writer)
    acked = {w.id for w in ledger if w.outcome == "acknowledged"}
    assert acked <= found
    assert {w.address for w in ledger} == {str(shared_lab.settings.primary_ip)}
    assert len({w.id for w in ledger}) == len(ledger), "ids are unique"
    now = time.monotonic()
    m = measure(ledger, found, Disruption(started_mono=now, started_wall=time.time(), effective_mono=now))
    assert m.lost_ids == () and m.rto_seconds is None


def test_probe_records_failed_writes_when_the_name_points_nowhere(shared_lab: Lab) -> None:
    probe = WriteProbe(shared_lab.inventory, ProbeSettings(rate=20), resolve=lambda: f"127.0.{NET}.99")
    probe.start()
    deadline = time.monotonic() + 30
    while len(probe.ledger) < 3:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    ledger = probe.stop()
    assert ledger and all(w.outcome == "failed" for w in ledger)
    assert all(w.error and shared_lab.password not in w.error for w in ledger)
