"""`crmdr watch` on a real lab: it sees the primary crash, declares the outage and fails over."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from recovery.adapters.health_probe import StandbyReceiver
from recovery.adapters.route53_dns import Route53Dns
from recovery.runbooks.journal.files import read_events
from tests.conftest import ROOT, crmdr
from tests.lab.conftest import Lab
from tests.lab.runbook_helpers import pg_ctl

pytestmark = [pytest.mark.lab, pytest.mark.slow]

AUTO_POLICY = """version: 1
tiers:
  gold:
    rto: 5m
    rpo: 30s
    backup_frequency: 1h
    retention: 35d
    max_replication_lag: 10s
    status_notice_every: 15m
    automatic_failover: true
    watch_interval: 0.3s
    watch_failures: 3
    drills: {backup-verify: 1d, restore-test: 7d, failover: 30d}
"""


def crash_primary(lab: Lab) -> None:
    pg_ctl(lab, "primary", "stop -m immediate", 30)


def test_watch_once_is_healthy_on_a_running_lab(shared_lab: Lab) -> None:
    result = crmdr("watch", "--once", "--json", "--inventory", str(shared_lab.inventory_path))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["status"] == "healthy"


def test_a_streaming_standby_is_read_as_streaming(shared_lab: Lab) -> None:
    """The second signal never claims the primary lost while the standby streams from it (a blip stays a blip)."""
    assert StandbyReceiver(shared_lab.inventory, 1.0, shared_lab.password)() is False


def test_watch_detects_a_crash_and_fails_over_then_detects_a_drill(fresh_lab: Lab, tmp_path: Path) -> None:
    policy = tmp_path / "auto.yaml"
    policy.write_text(AUTO_POLICY)
    journals = tmp_path / "runs"
    command = [sys.executable, "-m", "crmdr", "watch", "--failover", "--accept-data-loss", "--json",
               "--inventory", str(fresh_lab.inventory_path), "--policy", str(policy), "--journal-dir", str(journals)]
    watcher = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        assert watcher.stdout is not None
        first = json.loads(watcher.stdout.readline())
        assert first["status"] == "healthy"
        crash_primary(fresh_lab)
        out, err = watcher.communicate(timeout=180)
    finally:
        watcher.kill()
    assert watcher.returncode == 0, err
    lines = out.splitlines()
    statuses = [json.loads(line)["status"] for line in lines if line.startswith("{\"")]
    # the standby's WAL receiver lost the crashed primary too: two failed probes declare (three when the
    # first probe failed before the receiver noticed)
    declared_at = statuses.index("outage") + 1
    assert statuses[:declared_at] == ["suspect"] * (declared_at - 1) + ["outage"] and declared_at in (2, 3), statuses
    document = json.loads("\n".join(lines[len(statuses):]))
    assert document["outage"]["consecutive_failures"] == declared_at
    outage = json.loads(lines[declared_at - 1])
    assert declared_at == 3 or "standby's WAL receiver lost the primary" in outage["reason"], outage
    assert document["failover"]["status"] == "succeeded"
    assert Route53Dns(fresh_lab.inventory).resolve() == str(fresh_lab.settings.standby_ip)
    events = read_events(document["failover"]["run_id"], journals)
    watch_events = [e for e in events if e.step == "watch"]
    assert [e.status for e in watch_events] == ["started", "succeeded"]
    assert all(e.phase == "detect" for e in watch_events)
    assert document["failover"]["phases"]["detect"]["start"] == document["outage"]["first_failure"]
    outage_journals = list(journals.glob("watch-*.jsonl"))
    assert len(outage_journals) == 1 and "outage declared" in outage_journals[0].read_text()
    # THEN, failed back, a drill with --detect watch fails over only after the watch saw the crash
    assert crmdr("failback", "--yes", "--inventory", str(fresh_lab.inventory_path), "--journal-dir",
                 str(journals)).returncode == 0
    drill = crmdr("drill", "run", "--type", "failover", "--detect", "watch", "--policy", str(policy), "--inventory",
                  str(fresh_lab.inventory_path), "--out", str(tmp_path / "reports"), "--no-bucket", "--json")
    assert drill.returncode in (0, 1) and drill.stdout, drill.stderr
    report_dir = Path(json.loads(drill.stdout)["report_dir"])
    detect = [p for p in json.loads((report_dir / "report.json").read_text())["timeline"]
              if p["name"] == "failover: detect"]
    assert len(detect) == 1 and detect[0]["detail"].startswith("watch")
    assert "outage declared" in (report_dir / "failover-journal.jsonl").read_text()
