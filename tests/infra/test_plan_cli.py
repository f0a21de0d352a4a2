"""`crmdr plan` as a reviewer runs it: a real process, its output and its exit code."""

import json
import subprocess
import sys
from pathlib import Path

from tests.infra.conftest import INFRA

pytestmark = INFRA

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "Pulumi.example.yaml"


def crmdr(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "crmdr", *args], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )


def test_plan_on_the_example_lists_both_regions_and_passes_the_guardrails() -> None:
    result = crmdr("plan", "--config", str(EXAMPLE))
    assert result.returncode == 0, result.stderr
    assert "eu-west-1 (primary): " in result.stdout
    assert "eu-central-1 (dr): " in result.stdout
    assert "primary-crm (CrmStack)" in result.stdout
    assert "dr-offsite (OffsiteStore)" in result.stdout
    assert "rds:Instance" in result.stdout and "primary-crm-db" in result.stdout
    assert "0 violation(s)" in result.stdout
    assert "✔ rds-backup-retention" in result.stdout


def test_plan_json_carries_regions_verdicts_and_the_inventory() -> None:
    result = crmdr("plan", "--config", str(EXAMPLE), "--json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["regions"]["eu-west-1"]["role"] == "primary"
    assert document["regions"]["eu-central-1"]["role"] == "dr"
    assert document["guardrails"]["passed"] is True
    assert {verdict["rule"] for verdict in document["guardrails"]["verdicts"]} >= {"vault-lock", "dns-ttl"}
    assert document["outputs"]["dr_inventory"]["database"]["engine"] == "rds"


def test_plan_exits_1_naming_the_rule_when_retention_is_below_the_tier(tmp_path: Path) -> None:
    config = tmp_path / "Pulumi.short.yaml"
    config.write_text(EXAMPLE.read_text().replace("config:\n", "config:\n  crm-dr:backupRetention: 7d\n", 1))
    result = crmdr("plan", "--config", str(config))
    assert result.returncode == 1
    assert "crmdr: guardrail 'rds-backup-retention' failed on primary-crm-db (eu-west-1)" in result.stderr
    assert "tier 'gold' needs 35" in result.stderr
    assert "✘ backup-plan-retention" in result.stdout
    assert "✘ vault-lock" in result.stdout


def test_plan_exits_2_naming_file_line_and_key_on_invalid_config(tmp_path: Path) -> None:
    config = tmp_path / "Pulumi.bad.yaml"
    config.write_text(EXAMPLE.read_text().replace("crm-dr:drRegion: eu-central-1", "crm-dr:drRegion: eu-west-1"))
    result = crmdr("plan", "--config", str(config))
    assert result.returncode == 2
    assert result.stderr.startswith(f"crmdr: {config}: line 7: field 'crm-dr:drRegion': ")
    assert result.stdout == ""


def test_plan_overrides_pick_another_strategy() -> None:
    result = crmdr(
        "plan", "--config", str(EXAMPLE), "--set", "strategy=pilot-light", "--set", "slaTier=silver", "--json"
    )
    assert result.returncode == 0, result.stderr
    outputs = json.loads(result.stdout)["outputs"]
    assert outputs["dr_inventory"]["sla_tier"] == "silver"
    assert [s["expression"] for s in outputs["drill_schedules"]] == ["rate(1 day)", "rate(30 days)", "rate(90 days)"]
