"""RTO and RPO from a ledger: the arithmetic an auditor would redo by hand."""

import pytest

from drills.failover.measure import Disruption, Write, measure

pytestmark = pytest.mark.unit


def write(i: int, at: float, outcome: str = "acknowledged", took: float = 0.01,
          address: str = "10.0.0.1") -> Write:
    return Write(id=i, outcome=outcome, sent_wall=1_700_000_000 + at, sent_mono=at,  # type: ignore[arg-type]
                 done_mono=at + took, address=address)


DISRUPTION = Disruption(started_mono=10.0, started_wall=1_700_000_010.0, effective_mono=10.1)


def test_rto_is_first_ack_sent_after_the_disruption_took_effect() -> None:
    ledger = [write(1, 9.0), write(2, 9.5), write(3, 10.05),  # the dying primary's last ack
              write(4, 10.2, "failed"), write(5, 11.0, "unknown"),
              write(6, 13.2, address="10.1.0.1"), write(7, 13.4, address="10.1.0.1")]
    m = measure(ledger, {1, 2, 3, 6, 7}, DISRUPTION)
    assert m.rto_seconds == pytest.approx(13.21 - 10.0)
    assert m.first_ack_after == 6
    assert m.last_ack_before == 2
    assert m.writes_during_disruption == 1
    assert (m.acknowledged, m.failed, m.unknown) == (5, 1, 1)
    assert m.addresses == ("10.0.0.1", "10.1.0.1")


def test_no_ack_after_disruption_means_not_recovered() -> None:
    m = measure([write(1, 9.0), write(2, 10.5, "failed")], {1}, DISRUPTION)
    assert m.rto_seconds is None and not m.recovered


def test_nothing_lost_is_rpo_zero() -> None:
    m = measure([write(1, 9.0), write(2, 12.0)], {1, 2}, DISRUPTION)
    assert m.rpo_seconds == 0 and m.lost_ids == () and m.oldest_lost_age_seconds is None


def test_lost_acknowledged_writes_are_listed_with_the_loss_window() -> None:
    ledger = [write(1, 8.0), write(2, 9.0), write(3, 9.6), write(4, 12.0)]
    m = measure(ledger, {1, 4}, DISRUPTION)
    assert m.lost_ids == (2, 3)
    assert m.oldest_lost_age_seconds == pytest.approx(10.0 - 9.01)
    assert m.rpo_seconds == pytest.approx(10.1 - 9.01)


def test_unknown_and_failed_writes_never_count_as_lost_but_anomalies_are_reported() -> None:
    ledger = [write(1, 9.0, "unknown"), write(2, 9.5, "failed"), write(3, 9.7, "unknown"), write(4, 12.0)]
    m = measure(ledger, {1, 2, 4}, DISRUPTION)
    assert m.lost_ids == ()
    assert m.unknown_committed == 1
    assert m.failed_but_committed == (2,)


def test_disruption_cannot_take_effect_before_it_started() -> None:
    with pytest.raises(ValueError, match="before it started"):
        Disruption(started_mono=5.0, started_wall=0.0, effective_mono=4.0)


def test_as_dict_lists_lost_ids() -> None:
    m = measure([write(1, 9.0), write(2, 12.0)], {2}, DISRUPTION)
    assert m.as_dict()["lost_ids"] == [1] and m.as_dict()["lost_writes"] == 1
