"""The health watch's decision: N consecutive failed probes are one declared outage."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from policies.errors import ConfigError
from policies.sla import load_policy
from recovery.watch.decide import (
    ProbeResult,
    Verdict,
    WatchSettings,
    WatchState,
    failover_limitation,
    observe,
    watch_settings,
)
from tests.conftest import crmdr, make_inventory

pytestmark = pytest.mark.unit

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
SETTINGS = WatchSettings(interval=0.5, failures=3, timeout=0.5)


def probe(second: float, ok: bool) -> ProbeResult:
    return ProbeResult(T0 + timedelta(seconds=second), 100.0 + second, ok, "10.0.0.1",
                       "SELECT 1 in 2.0 ms" if ok else "connection refused")


def run(*oks: bool, settings: WatchSettings = SETTINGS) -> list[Verdict]:
    state, verdicts = WatchState(), []
    for i, ok in enumerate(oks):
        verdict = observe(state, probe(i * settings.interval, ok), settings)
        state = verdict.state
        verdicts.append(verdict)
    return verdicts


def test_failures_below_the_threshold_are_only_suspect() -> None:
    assert [v.status for v in run(True, False, False, True)] == ["healthy", "suspect", "suspect", "healthy"]


def test_the_nth_consecutive_failure_declares_one_outage_from_the_first_failure() -> None:
    verdicts = run(True, False, False, False, False)
    assert [v.status for v in verdicts] == ["healthy", "suspect", "suspect", "outage", "down"]
    found = verdicts[3].detection
    assert found is not None and found.failures == 3
    assert found.first_failure == T0 + timedelta(seconds=0.5)
    assert found.declared == T0 + timedelta(seconds=1.5)
    assert found.seconds == pytest.approx(1.0)
    assert "3 consecutive probes failed" in found.evidence and "connection refused" in found.evidence
    assert verdicts[4].detection is None


def test_a_success_resets_the_count() -> None:
    statuses = [v.status for v in run(False, False, True, False, False)]
    assert "outage" not in statuses


def test_a_success_after_an_outage_is_a_recovery_then_healthy() -> None:
    statuses = [v.status for v in run(False, False, False, True, True)]
    assert statuses == ["suspect", "suspect", "outage", "recovered", "healthy"]


def test_one_failure_is_enough_when_asked() -> None:
    verdicts = run(False, settings=WatchSettings(interval=1, failures=1, timeout=1))
    assert verdicts[0].status == "outage" and verdicts[0].detection is not None
    assert verdicts[0].detection.seconds == 0


def test_verdict_as_json_names_status_count_and_detection() -> None:
    found = run(False, False, False)[-1].to_dict()
    assert found["status"] == "outage" and found["consecutive_failures"] == 3
    assert found["detection_seconds"] == pytest.approx(1.0)


def test_settings_default_to_the_tier_and_command_line_wins() -> None:
    tier = load_policy().tier("gold")
    assert watch_settings(tier) == WatchSettings(interval=1.0, failures=3, timeout=1.0)
    assert watch_settings(tier, interval=0.2, failures=5) == WatchSettings(interval=0.2, failures=5, timeout=0.2)
    with pytest.raises(ConfigError, match="--failures"):
        watch_settings(tier, failures=0)
    with pytest.raises(ConfigError, match="--interval"):
        watch_settings(tier, interval=0)


def test_automatic_failover_is_off_unless_the_policy_allows_it() -> None:
    tier = load_policy().tier("silver")
    assert "automatic_failover: false" in (failover_limitation("silver", tier) or "")
    assert failover_limitation("silver", tier.model_copy(update={"automatic_failover": True})) is None


def test_policy_files_without_the_watch_fields_still_load(tmp_path: Path) -> None:
    shipped = Path(__file__).resolve().parents[2] / "policies" / "tiers.yaml"
    path = tmp_path / "old.yaml"
    path.write_text(shipped.read_text())
    tier = load_policy(path).tier("gold")
    assert tier.automatic_failover is False and tier.watch_failures == 3


def test_watch_failover_refused_by_policy_exits_3_before_probing(tmp_path: Path) -> None:
    inventory = tmp_path / "inventory.json"
    inventory.write_text(make_inventory().model_dump_json())
    result = crmdr("watch", "--failover", "--inventory", str(inventory))
    assert result.returncode == 3, result.stderr
    assert "automatic_failover: false" in result.stderr


def test_watch_bad_failures_exits_2(tmp_path: Path) -> None:
    inventory = tmp_path / "inventory.json"
    inventory.write_text(make_inventory().model_dump_json())
    result = crmdr("watch", "--once", "--failures", "0", "--inventory", str(inventory))
    assert result.returncode == 2 and "--failures" in result.stderr


@pytest.mark.parametrize(("drill_type", "detect"), [("backup-verify", "watch"), ("failover", "guess")])
def test_drill_detect_bad_input_exits_2(tmp_path: Path, drill_type: str, detect: str) -> None:
    inventory = tmp_path / "inventory.json"
    inventory.write_text(make_inventory().model_dump_json())
    result = crmdr("drill", "run", "--type", drill_type, "--detect", detect, "--inventory", str(inventory),
                   "--out", str(tmp_path / "reports"))
    assert result.returncode == 2, result.stderr
    assert "--detect" in result.stderr and not (tmp_path / "reports").exists()
