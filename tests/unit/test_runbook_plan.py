"""The runbooks' pure decisions and the step engine's contract (journal, skip, retry, refuse)."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from policies.errors import HostError, Refused, VerificationFailed
from recovery.redact import redact
from recovery.runbooks.decisions import (
    Identity,
    Truth,
    divergence,
    guard_limitation,
    lag_limitation,
    notice_due,
    render_plan,
)
from recovery.runbooks.engine import Engine, Step, survey
from recovery.runbooks.journal.events import Event, phase_times, resume_limitation, run_state
from recovery.runbooks.journal.files import Journal, read_events
from recovery.wal.segments import parse_lsn

pytestmark = pytest.mark.unit


class FixedClock:
    def __init__(self) -> None:
        self.t = 0.0

    def now(self) -> datetime:
        return datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=self.t)

    def monotonic(self) -> float:
        self.t += 1
        return self.t


def _event(step: str, status: str, phase: str = "", second: int = 0, **kw: str) -> Event:
    return Event(run="r1", runbook="failover", step=step, attempt=1, status=status,  # type: ignore[arg-type]
                 wall=f"2026-01-01T00:00:{second:02d}", mono=float(second), phase=phase, **kw)


def test_run_state_folds_options_done_steps_and_finish() -> None:
    events = [_event("run", "started", evidence='{"accept_data_loss": true}'),
              _event("fence", "started"), _event("fence", "succeeded"), _event("promote", "skipped"),
              _event("dns", "failed", reason="Route 53 down")]
    state = run_state(events)
    assert state.options == {"accept_data_loss": True}
    assert state.done_steps == ("fence", "promote")
    assert state.started_steps == ("fence",)
    assert not state.finished and state.last_failure == "Route 53 down"
    assert run_state([*events, _event("run", "succeeded")]).finished


def test_run_state_refuses_mixed_or_empty_journals() -> None:
    with pytest.raises(ValueError, match="no events"):
        run_state([])
    other = Event(run="r2", runbook="failover", step="x", attempt=1, status="started", wall="", mono=0)
    with pytest.raises(ValueError, match="mixes runs"):
        run_state([_event("run", "started"), other])


def test_resume_refuses_another_runbooks_journal() -> None:
    state = run_state([_event("run", "started")])
    assert resume_limitation(state, "failover") is None
    assert resume_limitation(state, "switchover") == "run r1 is a failover run, not a switchover run"


def test_phase_times_span_first_start_to_last_end_in_phase_order() -> None:
    events = [_event("fence", "started", "fence", 3), _event("fence", "succeeded", "fence", 4),
              _event("preflight", "started", "detect", 1), _event("preflight", "succeeded", "detect", 2),
              _event("promote", "skipped", "promote", 5)]
    phases = phase_times(events)
    assert list(phases) == ["detect", "fence", "promote"]
    assert phases["fence"] == {"start": "2026-01-01T00:00:03", "end": "2026-01-01T00:00:04"}
    assert phases["promote"] == {"start": "2026-01-01T00:00:05", "end": "2026-01-01T00:00:05"}


@pytest.mark.parametrize(("lag", "accept", "sync", "refused"), [
    (1.0, False, False, False), (11.0, False, False, True), (11.0, True, False, False),
    (None, False, False, True), (None, False, True, False),
])
def test_lag_limitation_against_the_tier(lag: float | None, accept: bool, sync: bool, refused: bool) -> None:
    reason = lag_limitation(lag, timedelta(seconds=10), accept_data_loss=accept, synchronous=sync)
    assert (reason is not None) == refused
    if reason:
        assert "--accept-data-loss" in reason


def test_guard_refuses_the_wrong_host_or_role() -> None:
    primary = Identity(name="primary", running=True, in_recovery=False, system_id="7")
    assert guard_limitation("fence", "primary", primary, want_primary=None) is None
    assert "answers as 'primary', expected 'standby'" in str(guard_limitation("promote", "standby", primary,
                                                                                 want_primary=False))
    assert "running primary taking writes" in str(guard_limitation("rebuild", "primary", primary, want_primary=False))
    stopped = Identity(name="standby", running=False, in_recovery=None, system_id="8")
    assert "not a running primary" in str(guard_limitation("stop writes", "standby", stopped, want_primary=True))
    assert "system identifier 8" in str(guard_limitation("promote", "standby", stopped, want_primary=False,
                                                         expected_system_id="7"))


def test_lsn_order_and_notice_cadence() -> None:
    assert parse_lsn("1/0") > parse_lsn("0/FFFFFFFF")
    assert parse_lsn("16/B374D848") == (0x16 << 32) + 0xB374D848
    start = datetime(2026, 1, 1, tzinfo=UTC)
    assert not notice_due(start, start + timedelta(minutes=14), timedelta(minutes=15))
    assert notice_due(start, start + timedelta(minutes=15), timedelta(minutes=15))


def test_plan_rendering_and_redaction() -> None:
    lines = render_plan("failover", [("fence", "stop it", Truth(True, "stopped")),
                                     ("dns", "move", Truth(False, "old"))])
    assert lines[1].startswith("  1. DONE  fence") and "TO DO dns" in lines[2]
    assert redact("password=s3cret!", ["s3cret"]) == "password=***!"
    assert redact("x" * 700, [], 600).endswith("...")


class World:
    """A tiny effect to steer: a flag, an action counter, failures to inject."""

    def __init__(self) -> None:
        self.done = False
        self.calls = 0
        self.failures: list[Exception] = []

    def check(self) -> Truth:
        return Truth(self.done, "done" if self.done else "not done")

    def act(self) -> str:
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        self.done = True
        return "acted"


def _engine(tmp_path: Path) -> Engine:
    return Engine(Journal("r1", "failover", tmp_path, FixedClock(), secrets=["hunter2"]))


def test_engine_skips_done_steps_and_retries_transient_errors(tmp_path: Path) -> None:
    world, skipped = World(), World()
    skipped.done = True
    world.failures = [HostError("ssh dropped (hunter2)")]
    engine = _engine(tmp_path)
    engine.run([Step("a", "", "fence", world.check, world.act, timeout=30, attempts=3),
                Step("b", "", "dns", skipped.check, skipped.act)])
    assert world.calls == 2 and skipped.calls == 0
    events = read_events("r1", tmp_path)
    assert [(e.step, e.status, e.attempt) for e in events] == [
        ("a", "started", 1), ("a", "failed", 1), ("a", "started", 2), ("a", "succeeded", 2), ("b", "skipped", 1)]
    assert "hunter2" not in (tmp_path / "r1.jsonl").read_text()


def test_engine_refusal_and_failed_verification_stop_the_run(tmp_path: Path) -> None:
    world = World()
    engine = _engine(tmp_path)
    with pytest.raises(Refused, match="wrong host"):
        engine.run_step(Step("a", "", "fence", world.check, world.act, guard=lambda: "wrong host"))
    assert world.calls == 0
    with pytest.raises(VerificationFailed, match="verification failed"):
        engine.run_step(Step("b", "", "fence", world.check, world.act, verify=lambda: Truth(False, "nope")))
    assert [e.status for e in read_events("r1", tmp_path)] == ["aborted", "started", "failed"]


def test_survey_only_reads_and_reports_unreachable_checks() -> None:
    world = World()

    def unreachable() -> Truth:
        raise HostError("host standby unreachable")

    rows = survey([Step("a", "do a", "fence", world.check, world.act),
                   Step("b", "do b", "dns", unreachable, world.act)])
    assert world.calls == 0
    assert rows[1][2] == Truth(False, "unknown (host standby unreachable)")


def test_torn_last_line_is_ignored_but_a_torn_middle_line_is_not(tmp_path: Path) -> None:
    good = _event("run", "started").to_line()
    (tmp_path / "r1.jsonl").write_text(f"{good}\n{{\"run\": \"r1\", \"st")
    assert len(read_events("r1", tmp_path)) == 1
    (tmp_path / "r1.jsonl").write_text(f"{{\"bad\n{good}\n")
    with pytest.raises(Exception, match="line 1"):
        read_events("r1", tmp_path)


HISTORY = "1\t0/3018790\tno recovery target specified\n"


def test_a_node_whose_wal_runs_past_the_fork_has_diverged() -> None:
    assert divergence(1, "0/40000A0", HISTORY) == (
        "its WAL ends at 0/40000A0, past the fork of timeline 1 at 0/3018790")


def test_a_node_that_stopped_before_the_fork_can_follow() -> None:
    assert divergence(1, "0/3000000", HISTORY) is None
    assert divergence(2, "0/9000000", HISTORY) is None, "a timeline absent from the history is not judged"
