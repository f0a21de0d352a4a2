"""backup-verify and restore-test drills on a real lab: verdict, report, signature, exit code."""

import json
import os
import stat

import jsonschema
import pytest

from drills.report.model import shipped_schema
from drills.report.signing import lab_key_path
from recovery.adapters.s3_store import S3ObjectStore
from tests.conftest import crmdr
from tests.lab.conftest import Lab

pytestmark = pytest.mark.lab


def test_restore_test_drill_passes_and_a_too_tight_sla_fails_naming_the_objective(fresh_lab: Lab, tmp_path) -> None:
    inv = str(fresh_lab.inventory_path)
    backup = crmdr("backup", "run", "--inventory", inv, "--json")
    assert backup.returncode == 0, backup.stderr
    out = tmp_path / "reports"
    ok = crmdr("drill", "run", "--type", "restore-test", "--tier", "bronze", "--inventory", inv,
               "--out", str(out), "--json")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    verdict = json.loads(ok.stdout)
    assert verdict["passed"] and verdict["measured"]["restore_seconds"] > 0
    report_dir = out / verdict["report_id"]
    jsonschema.validate(json.loads((report_dir / "report.json").read_text()), shipped_schema())
    assert {p.name for p in report_dir.iterdir()} >= {"report.json", "report.sig", "report.html", "report.md",
                                                      "report.junit.xml", "verification.json"}
    assert all(stat.S_IMODE(p.stat().st_mode) & 0o007 == 0 for p in report_dir.iterdir())
    cleanup = json.loads((report_dir / "report.json").read_text())["cleanup"]
    assert [(c["name"], c["passed"]) for c in cleanup] == [("scratch server removed", True)], cleanup
    assert fresh_lab.password not in "".join(p.read_text(errors="replace") for p in report_dir.iterdir())
    stored = S3ObjectStore(fresh_lab.inventory).head(f"drill-reports/{report_dir.name}/report.json")
    assert stored is not None and stored.lock_mode == "GOVERNANCE" and stored.retain_until is not None

    tight = tmp_path / "tight.yaml"
    tight.write_text("""version: 1
tiers:
  tight:
    rto: 0.001s
    rpo: 1h
    backup_frequency: 1h
    retention: 35d
    max_replication_lag: 10s
    status_notice_every: 15m
    drills: {backup-verify: 1d, restore-test: 7d, failover: 30d}
""")
    failed = crmdr("drill", "run", "--type", "restore-test", "--tier", "tight", "--policy", str(tight),
                   "--inventory", inv, "--out", str(out))
    assert failed.returncode == 1, failed.stderr
    assert "Restore time (RTO)" in failed.stdout and "> 0.001s by" in failed.stdout
    assert crmdr("report", "verify", str(out)).returncode == 0
    signing_key = lab_key_path(fresh_lab.inventory.stack)
    assert not signing_key.is_relative_to(fresh_lab.dir), "lab down --purge must not take the key"
    assert stat.S_IMODE(os.stat(signing_key).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(signing_key.parent).st_mode) == 0o700


def test_backup_verify_drill_without_any_backup_fails_honestly(fresh_lab: Lab, tmp_path) -> None:
    result = crmdr("drill", "run", "--type", "backup-verify", "--inventory", str(fresh_lab.inventory_path),
                   "--out", str(tmp_path / "r"), "--json")
    assert result.returncode == 1, result.stderr
    verdict = json.loads(result.stdout)
    assert any("no recovery point" in d for d in verdict["deviations"])
