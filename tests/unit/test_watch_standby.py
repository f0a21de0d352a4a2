"""The watch's second signal: the standby's WAL receiver having lost the primary confirms an outage sooner.

Never alone: one failed probe is noise whatever the standby says; a standby that still streams, or
cannot be read, leaves the tier's full count of failed probes in force.
"""

from datetime import UTC, datetime, timedelta

import pytest

from recovery.adapters.health_probe import receiver_lost
from recovery.watch.decide import ProbeResult, Verdict, WatchSettings, WatchState, observe

pytestmark = pytest.mark.unit

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
SETTINGS = WatchSettings(interval=0.5, failures=3, timeout=0.5)


def run(*probes: tuple[bool, bool | None], control_plane: str | None = None) -> list[Verdict]:
    """Each probe as (answered, standby_lost), one interval apart."""
    state, verdicts = WatchState(), []
    for i, (ok, lost) in enumerate(probes):
        second = i * SETTINGS.interval
        probe = ProbeResult(T0 + timedelta(seconds=second), 100.0 + second, ok, "10.0.0.1",
                            "SELECT 1 in 2.0 ms" if ok else "connection refused", standby_lost=None if ok else lost,
                            control_plane=control_plane)
        verdict = observe(state, probe, SETTINGS)
        state = verdict.state
        verdicts.append(verdict)
    return verdicts


def test_two_failures_with_the_standby_having_lost_the_primary_declare_the_outage() -> None:
    verdicts = run((True, None), (False, True), (False, True))
    assert [v.status for v in verdicts] == ["healthy", "suspect", "outage"]
    found = verdicts[2].detection
    assert found is not None and found.failures == 2 and found.seconds == pytest.approx(0.5)
    assert "standby's WAL receiver lost the primary" in found.evidence


def test_one_failure_is_noise_even_when_the_standby_lost_the_primary() -> None:
    assert [v.status for v in run((False, True), (True, None))] == ["suspect", "healthy"]


def test_a_blip_while_the_standby_still_streams_needs_the_full_count() -> None:
    verdicts = run((False, False), (False, False), (True, None))
    assert [v.status for v in verdicts] == ["suspect", "suspect", "healthy"]
    assert "the standby still streams from the primary" in verdicts[1].reason
    assert [v.status for v in run((False, False), (False, False), (False, False))][-1] == "outage"


@pytest.mark.parametrize("first", [None, False])
def test_a_standby_that_saw_nothing_at_one_of_the_two_failures_does_not_shorten_the_count(first: bool | None) -> None:
    assert [v.status for v in run((False, first), (False, True))] == ["suspect", "suspect"]
    assert [v.status for v in run((False, first), (False, True), (False, True))][-1] == "outage"


def test_an_unreadable_standby_leaves_the_full_count() -> None:
    assert [v.status for v in run((False, None), (False, None), (False, None))] == ["suspect", "suspect", "outage"]


def test_a_control_plane_outage_with_a_healthy_database_is_still_no_outage() -> None:
    verdicts = run((True, None), (True, None), (True, None), control_plane="Route 53 API: no answer within 2s")
    assert {v.status for v in verdicts} == {"control plane unreachable"}


@pytest.mark.parametrize(("in_recovery", "receivers", "status", "lost"), [
    (True, 0, None, True),             # no WAL receiver: it exited when the primary went away
    (True, 1, "streaming", False),
    (True, 1, "waiting", True),        # restarted, not streaming from anyone
    (True, 1, None, None),             # a role that may not see the receiver's status: no evidence
    (False, 0, None, None),            # not a standby (already promoted): says nothing of the old primary
])
def test_receiver_state_read_from_pg_stat_wal_receiver(in_recovery: bool, receivers: int, status: str | None,
                                                       lost: bool | None) -> None:
    assert receiver_lost(in_recovery, receivers, status) is lost
