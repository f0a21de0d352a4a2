"""Failover drill scenarios host-lost and network-cut: the unreachable primary is fenced by isolation."""

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from drills.lab import netfault
from recovery.adapters import local_firewall
from recovery.adapters.route53_dns import Route53Dns
from tests.conftest import crmdr
from tests.lab.conftest import Lab
from tests.lab.runbook_helpers import roles

pytestmark = [pytest.mark.lab, pytest.mark.slow]


def drill(lab: Lab, out: Path, scenario: str) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    result = crmdr("drill", "run", "--type", "failover", "--scenario", scenario, "--tier", "gold",
                   "--inventory", str(lab.inventory_path), "--out", str(out), "--json")
    return result, json.loads(result.stdout) if result.stdout.strip() else {}


def fence_evidence(report_dir: Path) -> str:
    journal = report_dir / "failover-journal.jsonl"
    events = [json.loads(line) for line in journal.read_text().splitlines()]
    return next(e["evidence"] for e in events if e["step"] == "fence" and e["status"] == "succeeded")


@pytest.mark.parametrize("scenario", ["network-cut", "host-lost"])
@pytest.mark.lab_settings(synchronous=True)
def test_unreachable_primary_drill_isolates_loses_nothing_and_fails_back(
        fresh_lab: Lab, tmp_path: Path, scenario: str) -> None:
    primary = str(fresh_lab.settings.primary_ip)

    result, verdict = drill(fresh_lab, tmp_path / "reports", scenario)

    assert result.returncode == 0, result.stdout + result.stderr
    measured = verdict["measured"]
    assert measured["lost_writes"] == 0 and measured["rpo_seconds"] == 0
    assert measured["acknowledged"] > 20
    report_dir = Path(verdict["report_dir"])
    assert "isolated" in fence_evidence(report_dir) and primary in fence_evidence(report_dir)
    document = json.loads((report_dir / "report.json").read_text())
    assert f"disrupt: {scenario} primary" in [p["name"] for p in document["timeline"]]
    cleanup = {c["name"]: c for c in document["cleanup"]}
    assert all(c["passed"] for c in cleanup.values()), cleanup
    assert f"undo {scenario}" in cleanup and "fail back" in cleanup
    # failback lifted the isolation and the cut: the primary is home and reachable again
    assert not netfault.is_cut(primary) and not local_firewall.is_cut(primary, local_firewall.ISOLATION)
    assert roles(fresh_lab) == {"primary": "primary", "standby": "standby"}
    assert Route53Dns(fresh_lab.inventory).resolve() == primary

