"""`crmdr policy check`: inconsistent or malformed policies and unknown tiers are exit 2 naming the line."""

from pathlib import Path

import pytest

from tests.conftest import crmdr, make_inventory

pytestmark = pytest.mark.unit

SHIPPED = Path(__file__).resolve().parents[2] / "policies" / "tiers.yaml"


def edited(tmp_path: Path, old: str, new: str) -> Path:
    path = tmp_path / "policy.yaml"
    text = SHIPPED.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    return path


@pytest.mark.parametrize(("old", "new", "expected"), [
    ("rpo: 30s", "rpo: 40d", ["line 9", "tiers.gold.rpo", "longer than the retention"]),
    ("rto: 1h", "rto: -300", ["line 22", "tiers.silver.rto", "negative"]),
    ("rto: 1h", "rto: -5m", ["line 22", "tiers.silver.rto", "-5m"]),
    ("failover: 365d", "failover: 400d", ["tiers.bronze.drills.failover", "audit period"]),
    ("rto: 5m", "rto: [5m", ["line", "not valid YAML"]),
])
def test_bad_policy_is_exit_2_naming_line_and_field(tmp_path: Path, old: str, new: str, expected: list[str]) -> None:
    result = crmdr("policy", "check", str(edited(tmp_path, old, new)))
    assert result.returncode == 2
    for text in expected:
        assert text in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


def test_inventory_naming_an_unknown_tier_is_exit_2_with_its_line(tmp_path: Path) -> None:
    inventory = tmp_path / "inventory.json"
    inventory.write_text(make_inventory(sla_tier="platinum").to_json())
    result = crmdr("policy", "check", str(SHIPPED), "--inventory", str(inventory))
    assert result.returncode == 2
    line = next(i for i, text in enumerate(inventory.read_text().splitlines(), 1) if '"sla_tier"' in text)
    assert f"{inventory}: line {line}: field 'sla_tier': unknown SLA tier 'platinum'" in result.stderr
    known = tmp_path / "known.json"
    known.write_text(make_inventory(sla_tier="silver").to_json())
    assert crmdr("policy", "check", str(SHIPPED), "--inventory", str(known)).returncode == 0
