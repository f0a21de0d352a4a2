"""The failover game day on a real lab: probe, crash, runbook, measure, fail back, report."""

import json
import subprocess
from pathlib import Path

import jsonschema
import pytest

from drills.report.model import shipped_schema
from recovery.adapters.route53_dns import Route53Dns
from tests.conftest import crmdr
from tests.lab.conftest import Lab

pytestmark = [pytest.mark.lab, pytest.mark.slow]



def drill(lab: Lab, out: Path) -> tuple[subprocess.CompletedProcess[str], dict]:
    result = crmdr("drill", "run", "--type", "failover", "--scenario", "crash", "--inventory",
                   str(lab.inventory_path), "--out", str(out), "--json", "--textfile", str(out / "drills.prom"))
    return result, json.loads(result.stdout) if result.stdout.strip() else {}


@pytest.mark.lab_settings(synchronous=True)
def test_failover_drill_synchronous_loses_nothing_and_fails_back(fresh_lab: Lab, tmp_path: Path) -> None:
    out = tmp_path / "reports"
    result, verdict = drill(fresh_lab, out)
    assert result.returncode == 0, result.stdout + result.stderr
    measured = verdict["measured"]
    assert measured["lost_writes"] == 0 and measured["rpo_seconds"] == 0
    assert 0 < measured["rto_seconds"] < 300 and measured["acknowledged"] > 20
    assert [o["name"] for o in verdict["objectives"]] == ["RTO", "RPO", "Lost acknowledged writes",
                                                          "Failover runbook", "First customer notice",
                                                          "customer requests lost"]
    requests_lost = verdict["objectives"][-1]
    assert requests_lost["passed"] and requests_lost["measured"] == 0, requests_lost
    assert measured["intake_requests_acknowledged"] == measured["intake_requests_entered"] == 5
    report_dir = Path(verdict["report_dir"])
    document = json.loads((report_dir / "report.json").read_text())
    jsonschema.validate(document, shipped_schema())
    phases = [p["name"] for p in document["timeline"]]
    assert "disrupt: crash primary" in phases and any(p.startswith("failover: ") for p in phases)
    assert all(c["passed"] for c in document["cleanup"]), document["cleanup"]
    assert Route53Dns(fresh_lab.inventory).resolve() == str(fresh_lab.settings.primary_ip)
    assert "crmdr_drill_passed{type=\"failover\"" in (out / "drills.prom").read_text()
    assert crmdr("report", "verify", str(out)).returncode == 0
    assert fresh_lab.password not in "".join(p.read_text(errors="replace") for p in report_dir.iterdir())


def test_failover_drill_asynchronous_lists_lost_writes_if_any(fresh_lab: Lab, tmp_path: Path) -> None:
    out = tmp_path / "reports"
    result, verdict = drill(fresh_lab, out)
    assert result.returncode in (0, 1), result.stderr
    measured = verdict["measured"]
    assert measured["lost_writes"] == len(measured["lost_ids"])
    assert (measured["rpo_seconds"] > 0) == bool(measured["lost_ids"])
    ledger = (Path(verdict["report_dir"]) / "ledger.csv").read_text().splitlines()
    acked = {int(line.split(",")[0]) for line in ledger[1:] if ",acknowledged," in line}
    assert set(measured["lost_ids"]) <= acked
    assert Route53Dns(fresh_lab.inventory).resolve() == str(fresh_lab.settings.primary_ip)
