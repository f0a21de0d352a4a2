"""crmdr switchover and failback in the real lab: zero acknowledged writes lost, roles restored."""

import subprocess
import time
from pathlib import Path

import pytest

from drills.failover.probe import ProbeSettings, WriteProbe, committed_ids
from drills.lab.settings import LabPaths
from drills.lab.system import as_service_user, pg_bin_dir
from recovery.adapters.route53_dns import Route53Dns
from tests.lab.conftest import Lab
from tests.lab.runbook_helpers import result, role_files, roles, run, write_through_name

pytestmark = pytest.mark.lab


@pytest.mark.lab_settings(synchronous=True)
def test_switchover_loses_no_acknowledged_write_under_load(fresh_lab: Lab, tmp_path: Path) -> None:
    probe = WriteProbe(fresh_lab.inventory, ProbeSettings(rate=50))
    probe.start()

    done = result(run(fresh_lab, "switchover", tmp_path, "--yes", "--json"))
    after = write_through_name(fresh_lab, 99)
    # The probe resolves through DNS like an application: it follows the switch once its cached
    # answer expires (the record's TTL), so give it that long to land a write on the new primary.
    deadline = time.monotonic() + fresh_lab.inventory.dns.ttl + 10
    while time.monotonic() < deadline and not any(
            w.outcome == "acknowledged" and w.address == after for w in probe.ledger):
        time.sleep(0.2)
    ledger = probe.stop()

    assert done["primary"] == "standby"
    assert roles(fresh_lab) == {"primary": "standby", "standby": "primary"}
    assert after == str(fresh_lab.settings.standby_ip)
    acknowledged = {w.id for w in ledger if w.outcome == "acknowledged"}
    missing = acknowledged - committed_ids(fresh_lab.inventory, probe.run_writer)
    assert acknowledged and missing == set(), f"lost acknowledged writes: {sorted(missing)}"
    assert any(w.outcome == "acknowledged" and w.address == after for w in ledger), "no write after the switch"


def test_failback_after_failover_restores_the_original_roles(fresh_lab: Lab, tmp_path: Path) -> None:
    result(run(fresh_lab, "failover", tmp_path, "--yes", "--json"))
    write_through_name(fresh_lab, 1001)

    back = result(run(fresh_lab, "failback", tmp_path, "--yes", "--json"))

    assert back["primary"] == "primary"
    assert roles(fresh_lab) == {"primary": "primary", "standby": "standby"}
    records = Route53Dns(fresh_lab.inventory).records()
    assert records["PRIMARY"]["ResourceRecords"][0]["Value"] == str(fresh_lab.settings.primary_ip)
    assert records["SECONDARY"]["ResourceRecords"][0]["Value"] == str(fresh_lab.settings.standby_ip)
    assert write_through_name(fresh_lab, 1002) == str(fresh_lab.settings.primary_ip)
    again = run(fresh_lab, "failback", tmp_path, "--yes")
    assert again.returncode == 0 and "nothing to do" in again.stdout


def test_failback_without_a_failover_is_refused_and_touches_nothing(fresh_lab: Lab, tmp_path: Path) -> None:
    """GIVEN a crashed primary and a standby never promoted, WHEN failback runs, THEN it is refused:
    rebuilding the crashed primary from a standby would destroy the newest data."""
    paths = LabPaths(fresh_lab.dir)
    subprocess.run(as_service_user([f"{pg_bin_dir()}/pg_ctl", "stop", "-m", "immediate", "-D",
                                    str(paths.data_dir("primary"))]), check=True, capture_output=True)
    before = role_files(fresh_lab)

    refused = run(fresh_lab, "failback", tmp_path, "--yes")

    assert refused.returncode == 3, refused.stderr
    assert "nothing to fail back from" in refused.stderr
    assert role_files(fresh_lab) == before
    assert roles(fresh_lab)["standby"] == "standby"
