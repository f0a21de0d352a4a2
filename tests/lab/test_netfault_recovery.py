"""Network cuts during backup, verify and failback (issue 7, item 1).

The process under test pauses at an exact point (CRMDR_TEST_PAUSE_AT, recovery/adapters/
fault_hooks.py) once its transfer is under way; the test cuts the host off with an iptables
DROP (drills/lab/netfault.py), lets the process go on, and expects a failure within the tool's
own timeouts that names the host and the step, nothing half-done listed as complete, and a
converging re-run once the network heals.
"""

import json
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from drills.lab import netfault
from tests.conftest import crmdr
from tests.lab.conftest import Lab, module_lab
from tests.lab.pause import open_uploads, release, start, start_backup_with_open_upload, start_paused, wait_file
from tests.lab.runbook_helpers import only_run, result, roles, run, write_through_name

pytestmark = [pytest.mark.lab, pytest.mark.slow]

def _cut_when_paused(process: subprocess.Popen[str], gate: Path, address: str) -> tuple[str, str, float]:
    """Wait for the pause, cut `address`, release; the output and seconds from cut to exit."""
    wait_file(Path(f"{gate}.reached"), process, 60)
    return release(process, gate, lambda: netfault.cut(address), f"{address} was cut")


backup_lab = module_lab(3, "Backup and verify change no roles: one lab serves both tests.", rows=50)


def _points(lab: Lab) -> list[dict[str, Any]]:
    listed = crmdr("backup", "list", "--json", "--inventory", str(lab.inventory_path))
    assert listed.returncode in (0, 1), listed.stderr  # 1: nothing verified within the RPO yet
    points: list[dict[str, Any]] = json.loads(listed.stdout)["points"]
    return points


def test_backup_with_the_primary_cut_mid_stream_fails_naming_it_and_a_rerun_succeeds(
        backup_lab: Lab, tmp_path: Path, record_property: Any) -> None:
    lab = backup_lab
    primary = str(lab.settings.primary_ip)
    before = [p["id"] for p in _points(lab)]
    process = start_backup_with_open_upload(lab, tmp_path / "go", "--kind", "physical", "--json")
    try:
        _, err, seconds = _cut_when_paused(process, tmp_path / "go", primary)
    finally:
        netfault.heal(primary)
    record_property("seconds_to_fail", round(seconds, 1))

    assert process.returncode == 1, err
    assert primary in err and "pg_basebackup" in err, err
    assert "Traceback" not in err and lab.password not in err
    assert [p["id"] for p in _points(lab)] == before, "a backup cut off mid-stream is listed as a recovery point"
    assert open_uploads(lab.inventory) == [], "the partial upload was not aborted"

    again = crmdr("backup", "run", "--kind", "physical", "--json", "--inventory", str(lab.inventory_path))
    assert again.returncode == 0, again.stderr
    assert [p["id"] for p in _points(lab)] == [*before, json.loads(again.stdout)["id"]]


def test_verify_with_the_bucket_endpoint_cut_reports_failure_never_success(
        backup_lab: Lab, tmp_path: Path, record_property: Any) -> None:
    lab = backup_lab
    # uncompressed, so the data GET is long enough for the cut to land in the middle of it
    taken = crmdr("backup", "run", "--kind", "physical", "--compress", "none", "--json",
                  "--inventory", str(lab.inventory_path))
    assert taken.returncode == 0, taken.stderr
    pid = json.loads(taken.stdout)["id"]
    endpoint = str(lab.settings.aws_ip)
    process = start_paused(lab.inventory_path, tmp_path / "go", "verify-stream",
                           "backup", "verify", "--id", pid, "--json")
    try:
        out, err, seconds = _cut_when_paused(process, tmp_path / "go", endpoint)
    finally:
        netfault.heal(endpoint)
    record_property("seconds_to_fail", round(seconds, 1))

    assert process.returncode == 1, err
    assert endpoint in err and pid in err, err
    assert '"ok": true' not in out and "Traceback" not in err
    assert not next(p for p in _points(lab) if p["id"] == pid)["verified"], "an interrupted verification counted"

    again = crmdr("backup", "verify", "--id", pid, "--json", "--inventory", str(lab.inventory_path))
    assert again.returncode == 0 and json.loads(again.stdout)["ok"] is True, again.stderr
    assert next(p for p in _points(lab) if p["id"] == pid)["verified"]


def test_failback_with_the_current_primary_cut_fails_naming_it_then_resume_converges(
        fresh_lab: Lab, tmp_path: Path, record_property: Any) -> None:
    """GIVEN a failover to the standby, WHEN the standby (now the primary) is cut off just as failback
    starts rebuilding the old primary from it, THEN failback fails naming the standby and the step,
    and after the cut heals, `failback --resume RUN` converges to the original roles."""
    journal = tmp_path / "runs"
    result(run(fresh_lab, "failover", journal / "failover", "--yes", "--json"))
    standby = str(fresh_lab.settings.standby_ip)
    gate = tmp_path / "go"
    process = start(fresh_lab.inventory_path, {"CRMDR_TEST_HOLD_AT": f"rebuild:{gate}"}, "failback", "--yes",
                    "--journal-dir", str(journal / "failback"))
    try:
        deadline = time.monotonic() + 60
        while not any('"lock"' in f.read_text() for f in (journal / "failback").glob("*.jsonl")):
            assert process.poll() is None and time.monotonic() < deadline, "failback never took the lock"
            time.sleep(0.05)
        Path(f"{gate}.reached").touch()
        _, err, seconds = _cut_when_paused(process, gate, standby)
    finally:
        netfault.heal(standby)
    record_property("seconds_to_fail", round(seconds, 1))

    assert process.returncode == 1, err
    assert standby in err and "rebuild" in err and "Traceback" not in err, err
    run_id = only_run(journal / "failback")[0].run
    resumed = run(fresh_lab, "failback", journal / "failback", "--yes", "--resume", run_id)
    assert resumed.returncode == 0, resumed.stderr
    assert roles(fresh_lab) == {"primary": "primary", "standby": "standby"}
    assert write_through_name(fresh_lab, 31337) == str(fresh_lab.settings.primary_ip)
