"""Objectives judged against a tier: pass/fail and the margin in words."""

from datetime import timedelta

import pytest

from drills.failover.measure import Measurement
from drills.judge import at_most, check, failover_objectives, seconds_text, verdict, within
from policies.sla import load_policy

pytestmark = pytest.mark.unit


def test_breach_says_by_how_much() -> None:
    o = within("RTO", 3.2, timedelta(seconds=1))
    assert not o.passed
    assert o.detail == "RTO 3.2s > 1s by 2.2s"
    assert o.margin == pytest.approx(-2.2)


def test_pass_says_the_headroom() -> None:
    o = within("RTO", 0.163, timedelta(minutes=5))
    assert o.passed and o.detail == "RTO 0.163s <= 5m (5m to spare)"
    assert seconds_text(299.837) == "5m" and seconds_text(3725) == "1h2m5s"


def test_unmeasured_figure_fails_with_the_reason() -> None:
    o = within("RTO", None, timedelta(minutes=5), missing="no write was acknowledged")
    assert not o.passed and "no write was acknowledged" in o.detail


def test_counts_and_checks() -> None:
    assert at_most("Lost", 0, 0, what="writes").passed
    lost = at_most("Lost", 3, 0, what="writes")
    assert not lost.passed and "by 3" in lost.detail
    assert check("Integrity", None).passed
    assert check("Integrity", "checksum mismatch in base.tar").detail == "Integrity: checksum mismatch in base.tar"


def test_verdict_lists_deviations_and_empty_never_passes() -> None:
    ok, failures = verdict([within("RTO", 2, timedelta(seconds=1)), check("x", None)])
    assert not ok and failures == ["RTO 2s > 1s by 1s"]
    assert verdict([]) == (False, [])


def measurement(rto: float | None, rpo: float, lost: tuple[int, ...] = ()) -> Measurement:
    return Measurement(rto_seconds=rto, rpo_seconds=rpo, lost_ids=lost, oldest_lost_age_seconds=None,
                       acknowledged=10, failed=2, unknown=0, unknown_committed=0, failed_but_committed=(),
                       first_ack_after=None, last_ack_before=None)


def test_failover_objectives_add_zero_loss_for_synchronous_tiers() -> None:
    policy = load_policy()
    gold = failover_objectives(measurement(0.4, 0.0), policy.tier("gold"))
    assert [o.name for o in gold] == ["RTO", "RPO", "Lost acknowledged writes"]
    assert all(o.passed for o in gold)
    silver = failover_objectives(measurement(None, 20 * 60, (7, 8)), policy.tier("silver"))
    assert [o.name for o in silver] == ["RTO", "RPO"]
    assert [o.passed for o in silver] == [False, False]
    assert silver[1].detail == "RPO 20m > 15m by 5m"
