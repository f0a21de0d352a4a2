"""SLA policy files: typed, consistent, and every error names the file, line and field."""

from datetime import timedelta
from pathlib import Path

import pytest

from policies.durations import format_duration, parse_duration
from policies.errors import ConfigError
from policies.sla import load_policy
from tests.conftest import crmdr

pytestmark = pytest.mark.unit

SHIPPED = Path(__file__).resolve().parents[2] / "policies" / "tiers.yaml"


@pytest.mark.parametrize(
    ("text", "seconds"), [("30s", 30), ("5m", 300), ("1h", 3600), ("35d", 35 * 86400), ("2w", 14 * 86400), (90, 90)]
)
def test_durations_read_as_people_write_them(text: str | int, seconds: int) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("bad", ["-5m", "5 minutes", "", True, [1]])
def test_bad_durations_are_rejected(bad: object) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(bad)


def test_durations_round_trip_to_their_shortest_spelling() -> None:
    assert [format_duration(parse_duration(x)) for x in ("90s", "120s", "24h", "14d")] == ["90s", "2m", "1d", "2w"]


def test_shipped_policy_is_valid_and_has_three_tiers() -> None:
    policy = load_policy()
    assert set(policy.tiers) == {"gold", "silver", "bronze"}
    assert policy.tier("gold").rpo < policy.tier("silver").rpo < policy.tier("bronze").rpo


def test_unknown_tier_names_the_known_ones() -> None:
    with pytest.raises(ConfigError, match=r"unknown SLA tier 'platinum'.*bronze, gold, silver"):
        load_policy().tier("platinum")


def _policy_with(tmp_path: Path, old: str, new: str) -> Path:
    text = SHIPPED.read_text()
    assert old in text
    path = tmp_path / "policy.yaml"
    path.write_text(text.replace(old, new, 1))
    return path


def _line_of(path: Path, needle: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if needle in line)


def test_rpo_longer_than_retention_names_line_and_field(tmp_path: Path) -> None:
    path = _policy_with(tmp_path, "    rpo: 24h", "    rpo: 40d")
    with pytest.raises(ConfigError) as caught:
        load_policy(path)
    message = str(caught.value)
    assert f"line {_line_of(path, 'rpo: 40d')}" in message
    assert "tiers.bronze.rpo" in message and "longer than the retention" in message


def test_negative_duration_names_line(tmp_path: Path) -> None:
    path = _policy_with(tmp_path, "    rto: 1h", "    rto: -1h")
    with pytest.raises(ConfigError) as caught:
        load_policy(path)
    assert f"line {_line_of(path, 'rto: -1h')}" in str(caught.value)
    assert "tiers.silver.rto" in str(caught.value)


def test_cadence_longer_than_audit_period(tmp_path: Path) -> None:
    path = _policy_with(tmp_path, "      failover: 365d", "      failover: 400d")
    with pytest.raises(ConfigError, match=r"tiers\.bronze\.drills\.failover.*longer than the audit period"):
        load_policy(path)


def test_unknown_field_and_broken_yaml(tmp_path: Path) -> None:
    path = _policy_with(tmp_path, "    rto: 5m", "    rto: 5m\n    rtoo: 5m")
    with pytest.raises(ConfigError, match=r"line \d+: field 'tiers.gold.rtoo' is not a known field"):
        load_policy(path)
    broken = tmp_path / "broken.yaml"
    broken.write_text("tiers:\n  gold: [unclosed\n")
    with pytest.raises(ConfigError, match=r"broken.yaml: line \d+: not valid YAML"):
        load_policy(broken)


def test_policy_check_cli_exit_codes(tmp_path: Path) -> None:
    ok = crmdr("policy", "check", str(SHIPPED))
    assert ok.returncode == 0 and "3 tier(s)" in ok.stdout
    bad = crmdr("policy", "check", str(_policy_with(tmp_path, "    rpo: 24h", "    rpo: 40d")))
    assert bad.returncode == 2
    assert bad.stderr.count("\n") == 1 and "Traceback" not in bad.stderr
    missing = crmdr("policy", "check", str(tmp_path / "nope.yaml"))
    assert missing.returncode == 2 and "not found" in missing.stderr
