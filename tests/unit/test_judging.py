"""Judging is complete: tier requirements judged on measurements, tiers named with file and field, proofs kept."""

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from drills.judge import Replication, replication_objectives
from policies.sla import load_policy
from recovery.backups.catalog import strongest_proof
from recovery.backups.manifest import Verification
from tests.conftest import crmdr, make_inventory

pytestmark = pytest.mark.unit

T = datetime(2026, 5, 1, tzinfo=UTC)


def verdict(minutes: int, *, restore: bool, ok: bool = True) -> Verification:
    return Verification(point_id="p", checked_at=T + timedelta(minutes=minutes), restore=restore, ok=ok,
                        reasons=[] if ok else ["object x was edited"])


def test_a_plain_check_after_a_restore_test_keeps_the_restore_proof() -> None:
    restored, plain = verdict(1, restore=True), verdict(2, restore=False)
    assert strongest_proof(plain, restored) is restored
    assert strongest_proof(restored, restored) is restored
    failed = verdict(3, restore=False, ok=False)
    assert strongest_proof(failed, restored) is failed, "a later failure is never hidden by an older proof"
    assert strongest_proof(plain, verdict(0, restore=True, ok=False)) is plain
    assert strongest_proof(None, None) is None


def test_gold_requires_synchronous_replication_measured_not_declared() -> None:
    gold = load_policy().tier("gold")
    judged = {o.name: o for o in replication_objectives(Replication("async", 0.02), gold)}
    assert judged["Synchronous replication"].passed is False
    assert "measured false (the standby's sync_state was 'async')" in judged["Synchronous replication"].detail
    assert judged["Replication lag"].passed is True
    sync = {o.name: o for o in replication_objectives(Replication("sync", 0.0), gold)}
    assert all(o.passed for o in sync.values())
    late = {o.name: o for o in replication_objectives(Replication("async", 30.0), load_policy().tier("gold"))}
    assert late["Replication lag"].detail == "Replication lag 30.0s > 10s by 20.0s"
    silver = {o.name for o in replication_objectives(Replication("async", 1.0), load_policy().tier("silver"))}
    assert silver == {"Replication lag"}, "silver does not require synchronous replication"
    unread = replication_objectives(Replication("", None, error="the primary primary did not answer (x)"), gold)
    assert [o.passed for o in unread] == [False, False] and "not measured" in unread[1].detail


@pytest.fixture
def platinum(tmp_path: Path) -> Path:
    path = tmp_path / "platinum.json"
    data = json.loads(make_inventory().to_json())
    data["sla_tier"] = "platinum"
    path.write_text(json.dumps(data, indent=2, sort_keys=True))
    return path


@pytest.mark.parametrize("command", [("inventory", "check"), ("drill", "due"), ("backup", "list"),
                                     ("drill", "schedule"), ("failover", "--dry-run"), ("watch", "--once")])
def test_an_unknown_tier_is_named_with_its_file_and_field(platinum: Path, command: tuple[str, ...]) -> None:
    result = crmdr(*command, "--inventory", str(platinum))
    assert result.returncode == 2, result.stdout + result.stderr
    line = next(n for n, text in enumerate(platinum.read_text().splitlines(), 1) if '"sla_tier"' in text)
    assert f"{platinum}: line {line}: field 'sla_tier': unknown SLA tier 'platinum'" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


def test_inventory_check_takes_the_policy_that_defines_the_tier(tmp_path: Path, platinum: Path) -> None:
    policy = tmp_path / "policy.yaml"
    shipped = (Path(__file__).resolve().parents[2] / "policies" / "tiers.yaml").read_text()
    policy.write_text(shipped.replace("  gold:\n", "  platinum:\n", 1))
    result = crmdr("inventory", "check", "--inventory", str(platinum), "--policy", str(policy), "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["sla_tier"] == "platinum"
