"""`crmdr drill` and `crmdr report verify` through the real CLI: exit codes are the contract."""

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from drills.schedule import due_drills, prometheus_text
from policies.sla import load_policy
from tests.conftest import crmdr, make_inventory
from tests.unit.test_report import make_report

pytestmark = pytest.mark.unit



def policy_file(tmp_path: Path, *, allow: bool) -> Path:
    text = (Path(__file__).resolve().parents[2] / "policies" / "tiers.yaml").read_text()
    if allow:
        text = text.replace("    object_lock_mode: GOVERNANCE\n", "    object_lock_mode: GOVERNANCE\n"
                            "    production_drills_allowed: true\n", 1)
    path = tmp_path / "policy.yaml"
    path.write_text(text)
    return path


@pytest.fixture
def key(tmp_path: Path) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture
def production(tmp_path: Path) -> Path:
    path = tmp_path / "production.json"
    path.write_text(make_inventory(environment="production").to_json())
    return path


def test_failover_drill_on_production_is_refused_by_policy(tmp_path: Path, production: Path) -> None:
    result = crmdr("drill", "run", "--type", "failover", "--inventory", str(production), "--out",
                   str(tmp_path / "out"), "--i-understand-production")
    assert result.returncode == 3, result.stderr
    assert "production_drills_allowed: false" in result.stderr
    assert not (tmp_path / "out").exists(), "a refused drill changes nothing"


def test_failover_drill_on_production_needs_the_flag_too(tmp_path: Path, production: Path) -> None:
    result = crmdr("drill", "run", "--type", "failover", "--inventory", str(production), "--out",
                   str(tmp_path / "out"), "--policy", str(policy_file(tmp_path, allow=True)))
    assert result.returncode == 3
    assert "--i-understand-production" in result.stderr and "Traceback" not in result.stderr


def test_unknown_type_tier_and_scenario_are_bad_input(tmp_path: Path, production: Path) -> None:
    base = ["drill", "run", "--inventory", str(production), "--out", str(tmp_path / "out")]
    bad_type = crmdr(*base, "--type", "chaos")
    assert bad_type.returncode == 2 and "chaos" in bad_type.stderr
    bad_tier = crmdr(*base, "--type", "failover", "--tier", "platinum")
    assert bad_tier.returncode == 2 and "unknown SLA tier 'platinum'" in bad_tier.stderr
    bad_scenario = crmdr(*base, "--type", "failover", "--scenario", "meteor")
    assert bad_scenario.returncode == 2 and "meteor" in bad_scenario.stderr


def test_inconsistent_policy_is_exit_2_naming_the_line(tmp_path: Path, production: Path) -> None:
    policy = policy_file(tmp_path, allow=False)
    policy.write_text(policy.read_text().replace("rpo: 30s", "rpo: 40d", 1))
    result = crmdr("drill", "run", "--type", "failover", "--inventory", str(production), "--policy", str(policy))
    assert result.returncode == 2
    assert "line 9" in result.stderr and "tiers.gold.rpo" in result.stderr and "retention" in result.stderr


def test_report_verify_cli_names_the_edited_report(tmp_path: Path, key) -> None:
    out = tmp_path / "out"
    ids = [make_report(out, key, n).name for n in (1, 2)]
    ok = crmdr("report", "verify", str(out), "--json")
    assert ok.returncode == 0 and json.loads(ok.stdout)["reports"] == 2
    md = out / ids[0] / "report.md"
    md.write_bytes(md.read_bytes() + b" ")
    bad = crmdr("report", "verify", str(out))
    assert bad.returncode == 1
    assert f"report {ids[0]}: file report.md was edited" in bad.stdout


def test_drill_due_is_exit_1_when_overdue_and_lists_states(tmp_path: Path, key) -> None:
    out = tmp_path / "out"
    make_report(out, key, 1)
    result = crmdr("drill", "due", "--tier", "gold", "--out", str(out), "--json")
    assert result.returncode == 1
    states = {d["type"]: d for d in json.loads(result.stdout)["drills"]}
    assert states["backup-verify"]["reason"] == "never run"
    assert states["failover"]["state"] == "overdue"  # the fixture's drill ran in March 2026


def test_due_states_from_last_passing_drill(tmp_path: Path, key) -> None:
    from drills.report.store import past_reports

    out = tmp_path / "out"
    make_report(out, key, 1)
    make_report(out, key, 2, rto=900.0)  # failed: does not reset the cadence
    reports = past_reports(out)
    gold = load_policy().tier("gold")
    passed_at = reports[0].finished_at
    ok = {d.drill_type: d for d in due_drills(gold, reports, passed_at + timedelta(days=10))}
    assert ok["failover"].state == "ok" and ok["failover"].last_run == reports[1].finished_at
    assert {d.drill_type: d.state for d in due_drills(gold, reports, passed_at + timedelta(days=29, hours=12))}[
        "failover"] == "due"
    late = {d.drill_type: d for d in due_drills(gold, reports, passed_at + timedelta(days=31))}
    assert late["failover"].state == "overdue" and late["failover"].reason == (
        f"overdue by 1 day (was due {passed_at + timedelta(days=30):%Y-%m-%d})")
    text = prometheus_text(reports, list(late.values()))
    assert 'crmdr_drill_passed{type="failover",tier="gold",stack="test"} 0' in text
    assert 'crmdr_drill_rto_seconds{type="failover",tier="gold",stack="test"} 900' in text
    assert 'crmdr_drill_overdue{type="failover"} 1' in text


def test_schedule_prints_cron_and_installs_systemd_units(tmp_path: Path) -> None:
    inventory = tmp_path / "inv.json"
    inventory.write_text(make_inventory().to_json())
    cron = crmdr("drill", "schedule", "--inventory", str(inventory))
    assert cron.returncode == 0, cron.stderr
    assert "17 3 * * * " in cron.stdout and "--type backup-verify --tier gold" in cron.stdout
    units = tmp_path / "units"
    done = crmdr("drill", "schedule", "--inventory", str(inventory), "--format", "systemd", "--install",
                 "--dest", str(units))
    assert done.returncode == 0, done.stderr
    timer = (units / "crmdr-drill-failover.timer").read_text()
    assert "OnCalendar=" in timer and "Persistent=true" in timer
    assert "ExecStart=" in (units / "crmdr-drill-failover.service").read_text()


def test_never_run_is_overdue() -> None:
    states = due_drills(load_policy().tier("bronze"), [], datetime(2026, 1, 1, tzinfo=UTC))
    assert [s.state for s in states] == ["overdue"] * 3
