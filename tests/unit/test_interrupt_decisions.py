"""The pure decisions behind interrupts, re-runs, forks and orphans (issue 12, items 2, 4, 5)."""

from datetime import UTC, datetime, timedelta

import pytest

from policies.errors import Interrupted, interrupted
from recovery.backups.orphans import Orphan, orphan_keys, removal_limitation
from recovery.runbooks.decisions import fenced_lag_limitation, streaming_stall, timeline_fork
from recovery.runbooks.journal.events import Event, resume_limitation, run_state, unfinished_limitation

pytestmark = pytest.mark.unit

NOW = datetime(2026, 12, 2, 8, 0, tzinfo=UTC)


def _events(run: str, *steps: tuple[str, str], reason: str = "") -> list[Event]:
    return [Event(run=run, runbook="failover", step=step, attempt=1, status=status, wall=NOW.isoformat(), mono=0.0,  # type: ignore[arg-type]
                  reason=reason if status == "aborted" else "") for step, status in steps]


def test_an_interrupted_run_blocks_a_plain_rerun_naming_resume_and_discard() -> None:
    state = run_state(_events("failover-1", ("run", "started"), ("fence", "succeeded"), ("promote", "started"),
                              ("promote", "aborted"), ("run", "aborted"), reason="interrupted by SIGINT"))
    assert state.unfinished and state.stopped_at == "promote"
    reason = unfinished_limitation([state], "failover", "crmdr failover --yes", None)
    assert reason is not None
    assert "crmdr failover --yes --resume failover-1" in reason and "--discard failover-1" in reason
    assert "stopped at step promote: interrupted by SIGINT" in reason
    assert unfinished_limitation([state], "failover", "crmdr failover", "failover-1") is None
    assert unfinished_limitation([state], "failback", "crmdr failback", None) is None


def test_an_unfinished_run_of_another_stack_blocks_nothing_and_cannot_be_resumed_here() -> None:
    """Two stacks' runs may share a journal directory; each refuses only beside its own."""
    opening = Event(run="failover-1", runbook="failover", step="run", attempt=1, status="started",
                    wall=NOW.isoformat(), mono=0.0, evidence='{"stack": "crm-eu"}')
    theirs = run_state([opening, *_events("failover-1", ("fence", "started"))])
    assert unfinished_limitation([theirs], "failover", "crmdr failover", None, "crm-us") is None
    assert unfinished_limitation([theirs], "failover", "crmdr failover", None, "crm-eu") is not None
    assert resume_limitation(theirs, "failover", "crm-us") == (
        "run failover-1 is a run of stack 'crm-eu', not of 'crm-us' (see --inventory)")
    assert resume_limitation(theirs, "failover", "crm-eu") is None
    older = run_state(_events("failover-2", ("run", "started"), ("fence", "started")))  # names no stack
    assert unfinished_limitation([older], "failover", "crmdr failover", None, "crm-us") is not None


def test_finished_and_discarded_runs_block_nothing() -> None:
    finished = run_state(_events("failover-1", ("run", "started"), ("run", "succeeded")))
    discarded = run_state(_events("failover-2", ("run", "started"), ("fence", "started"), ("discard", "succeeded")))
    assert discarded.discarded and not discarded.unfinished and discarded.done_steps == ()
    assert unfinished_limitation([finished, discarded], "failover", "crmdr failover", None) is None


def test_a_fenced_primary_never_suggests_accepting_data_loss_when_crmdr_fenced_it() -> None:
    ours = fenced_lag_limitation("primary", "failover-1", "crmdr failover", "/runs")
    assert "--resume failover-1" in ours and "--accept-data-loss" not in ours
    theirs = fenced_lag_limitation("primary", None, "crmdr failover", "/runs")
    assert "no crm-dr run in /runs fenced it" in theirs and "--accept-data-loss" in theirs


def test_a_timeline_ahead_of_the_upstream_is_a_fork_and_the_log_reason_is_quoted() -> None:
    assert timeline_fork("standby", 2, "primary", 1) is not None
    assert timeline_fork("standby", 1, "primary", 2) is None
    said = streaming_stall("standby", "primary", ["LOG: x", "FATAL:  highest timeline 1 of the primary server is "
                                                            "behind recovery timeline 2"])
    assert "highest timeline 1 of the primary server is behind recovery timeline 2" in said


def test_orphans_are_points_without_a_manifest() -> None:
    keys = ["points/a/base.tar", "points/a/manifest.json", "points/b/base.tar", "wal/000000010000000000000001",
            "cluster.json"]
    assert orphan_keys(keys) == ["points/b/base.tar"]


def test_prune_keeps_locked_and_young_orphans_saying_until_when() -> None:
    locked = Orphan("points/b/base.tar", 10, "object", NOW - timedelta(days=1), NOW + timedelta(days=3))
    young = Orphan("points/c/base.tar", 10, "upload", NOW - timedelta(minutes=5), upload_id="u")
    free = Orphan("points/d/base.tar", 10, "object", NOW - timedelta(days=40), NOW - timedelta(days=5))
    assert "Object Lock" in str(removal_limitation(locked, NOW)) and "2026-12-05" in str(removal_limitation(locked, NOW))
    assert "still running" in str(removal_limitation(young, NOW))
    assert removal_limitation(young, NOW, timedelta(0)) is None
    assert removal_limitation(free, NOW) is None


def test_exit_codes_follow_the_signal() -> None:
    assert [Interrupted(n).exit_code for n in (2, 15, 1)] == [130, 143, 129]
    assert interrupted(KeyboardInterrupt()).signal_name == "SIGINT"
