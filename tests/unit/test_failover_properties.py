"""Crash safety as a property: the real failover runbook, driven by hypothesis over a model world.

Rules start, crash (at any side effect, or through the engine's crash hook) and resume the
FAILOVER runbook (`run.execute`, the same code `crmdr failover` runs), make the standby lag,
cut or crash either node, bring it back, advance time past the lease, and pass or not
--accept-data-loss / --force-unfenced. After every rule the invariants hold:

- never two writable primaries behind the DNS name, unless an operator forced an unfenced run;
- never a promotion while the other node could take writes or restart as a primary, unless forced;
- the journal only moves forward: a step done in a run is never started, failed or done again
  in it, and every journal stays readable;
- the lag a run reported before promoting is >= the true loss (the age, at that moment, of the
  oldest acknowledged write the promoted node lacks); "unknown" only with --accept-data-loss;
  synchronous replication without --accept-data-loss loses no acknowledged write;
- no side effect happens twice; the lock is released when a run ends (a dead process keeps it).
"""

import re
import shutil
import tempfile
from collections import Counter
from datetime import datetime
from pathlib import Path
from unittest import mock

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from policies.errors import DrError
from recovery.runbooks import engine, failover
from recovery.runbooks.failover import FAILOVER
from recovery.runbooks.journal.files import read_events
from recovery.runbooks.run import Options, execute
from tests.unit.failover_model import EPOCH, Crash, Promotion, World, open_model_site

pytestmark = pytest.mark.unit

STEPS = ("fence", "promote", "desync", "accept-writes", "dns", "validate")
DONE = ("succeeded", "skipped")
FIGURES: Counter[str] = Counter()
LAG = re.compile(r"; lag (unknown|[0-9.]+s);")


RESTARTED = "restarted by the world"


class FailoverMachine(RuleBasedStateMachine):
    """One world per example; each `failover` rule is one `crmdr failover` process."""

    @initialize(synchronous=st.booleans())
    def start(self, synchronous: bool) -> None:
        self.world = World(synchronous=synchronous)
        self.journal_dir = Path(tempfile.mkdtemp(prefix="crmdr-model-"))
        self.runs: list[str] = []
        self.run_options: dict[str, tuple[bool, bool]] = {}
        self.patches = [mock.patch.object(engine, "_crash", self.world.crash_hook),
                        mock.patch.object(failover, "WRITE_WAIT_SECONDS", 0.3)]
        for patch in self.patches:
            patch.start()  # type: ignore[attr-defined]
        FIGURES["examples"] += 1

    def teardown(self) -> None:
        for patch in getattr(self, "patches", []):
            patch.stop()
        if hasattr(self, "journal_dir"):
            shutil.rmtree(self.journal_dir, ignore_errors=True)

    # -- the world ------------------------------------------------------------------
    @rule()
    def write(self) -> None:
        FIGURES["writes"] += 1
        self.world.write()

    @rule(seconds=st.sampled_from([1, 5, 9, 30, 61]))
    def tick(self, seconds: int) -> None:
        self.world.t += seconds
        self.world.settle()

    @rule()
    def standby_lags(self) -> None:
        FIGURES["faults"] += 1
        self.world.link_up = False

    @rule()
    def link_heals(self) -> None:
        self.world.link_up = True
        self.world.settle()

    @rule(name=st.sampled_from(["primary", "standby"]), kind=st.sampled_from(["partition", "db-crash", "power-off"]))
    def fault(self, name: str, kind: str) -> None:
        FIGURES["faults"] += 1
        node = self.world.nodes[name]
        if kind in ("partition", "power-off"):
            node.reachable = False
        if kind in ("db-crash", "power-off"):
            node.running = False
        self.world.settle()

    @rule(name=st.sampled_from(["primary", "standby"]))
    def bring_back(self, name: str) -> None:
        """The host returns; a stopped server starts as its data directory says (standby.signal)."""
        node = self.world.nodes[name]
        node.reachable = True
        if not node.running:
            node.running, node.recovery = True, node.signal
            self.world.effect_log.append((RESTARTED, name))
        self.world.settle()

    # -- the tool -------------------------------------------------------------------
    @rule(accept=st.booleans(), force=st.booleans(), resume=st.booleans(),
          crash=st.one_of(st.none(), st.integers(1, 6), st.sampled_from(STEPS)))
    def failover(self, accept: bool, force: bool, resume: bool, crash: int | str | None) -> None:
        previous = self.runs[-1] if resume and self.runs else None
        if isinstance(crash, int):
            self.world.crash_after = self.world.effects + crash
        else:
            self.world.crash_step = crash
        inherited = self.run_options.get(previous or "", (False, False))
        self.world.current_run_forced = force or inherited[1]
        self.world.current_run_accepts = accept or inherited[0]
        before = set(self.journal_dir.glob("*.jsonl"))
        held = self.world.lock
        promotions = len(self.world.promotions)
        outcome = self._execute(Options(resume=previous, accept_data_loss=accept, force_unfenced=force,
                                        journal_dir=self.journal_dir, drill=True))
        self.world.crash_after, self.world.crash_step, self.world.dead = None, None, False
        FIGURES[f"runs {outcome}"] += 1
        assert outcome == "crash" or self.world.lock in (None, held), f"{outcome} left the lock held"
        run = previous or next((p.stem for p in set(self.journal_dir.glob("*.jsonl")) - before), None)
        if run is None:
            assert outcome != "crash", "a run died before writing its journal, yet had effects"
            return
        if previous is None:
            self.runs.append(run)
        self.run_options[run] = (accept or inherited[0], force or inherited[1])
        for promotion in self.world.promotions[promotions:]:
            promotion.run = run
            self._check_promotion(promotion)

    def _execute(self, options: Options) -> str:
        try:
            execute(FAILOVER, open_model_site(self.world), options)
        except Crash:
            return "crash"
        except DrError as err:
            message = str(err)
            assert "\n" not in message.strip() or "resume" in message, message
            return f"exit {err.exit_code}"
        return "exit 0"

    def _check_promotion(self, promotion: Promotion) -> None:
        FIGURES["promotions"] += 1
        accept = promotion.accepted
        assert promotion.other_fenced or promotion.forced, f"{promotion.target} promoted while the other node " \
                                                           "could take writes, without --force-unfenced"
        preflight = next(e for e in read_events(promotion.run, self.journal_dir) if e.step == "preflight"
                         and e.status == "succeeded")
        reported = LAG.search(preflight.evidence)
        assert reported, preflight.evidence
        measured_at = (datetime.fromisoformat(preflight.wall) - EPOCH).total_seconds()
        true_loss = max((measured_at - t for t in promotion.lost.values()), default=0.0)
        if reported.group(1) == "unknown":
            assert accept or (self.world.synchronous and not promotion.lost), \
                f"lag unknown and promoted without --accept-data-loss, losing {sorted(promotion.lost)}"
        else:
            assert float(reported.group(1).rstrip("s")) + 1e-3 >= true_loss, \
                f"reported lag {reported.group(1)} < true loss {true_loss:.3f}s (writes {sorted(promotion.lost)})"
        if self.world.synchronous and not accept:
            assert not promotion.lost, f"synchronous replication lost acknowledged writes {sorted(promotion.lost)}"

    # -- invariants -------------------------------------------------------------------
    @invariant()
    def no_split_brain_behind_the_name(self) -> None:
        writable = self.world.writable_in_dns()
        assert len(writable) <= 1 or self.world.ever_forced or any(p.forced for p in self.world.promotions), \
            f"two writable primaries behind the name: {writable}"

    @invariant()
    def journals_move_forward(self) -> None:
        """Once a step is done in a run, later attempts only skip it. The one exception: a forced
        run whose old primary became unreachable tries the fence again (it cannot see that it holds);
        that attempt has no side effect, which `no_side_effect_twice` checks."""
        for run in self.runs:
            events = read_events(run, self.journal_dir)
            forced = self.run_options[run][1]
            done: set[str] = set()
            for event in (e for e in events if e.step in STEPS):
                again = event.step in done and event.status != "skipped"
                if again and not (forced and event.step == "fence"):
                    raise AssertionError(f"run {run}: {event.step} {event.status} after it was done")
                if event.status in DONE:
                    done.add(event.step)
            finished = [i for i, e in enumerate(events) if e.step == "run" and e.status == "succeeded"]
            assert not finished or finished[0] == len(events) - 1, f"run {run}: events after it finished"

    @invariant()
    def no_side_effect_twice(self) -> None:
        """Once the world restarted a node, fencing it again is a new effect, not a repeat."""
        seen: set[tuple[str, str]] = set()
        repeated: list[tuple[str, str]] = []
        for what, where in self.world.effect_log:
            if what == RESTARTED:
                seen = {effect for effect in seen if effect[1] != where}
                continue
            if (what, where) in seen:
                repeated.append((what, where))
            seen.add((what, where))
        assert not repeated, f"side effects repeated: {repeated}"


FailoverMachine.TestCase.settings = settings(
    max_examples=100, stateful_step_count=25, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
TestFailoverProperties = FailoverMachine.TestCase


def test_figures_are_recorded() -> None:
    """Run after the machine (file order); prints what was explored, for the closing note."""
    print(f"failover model: {dict(FIGURES)}")
    assert FIGURES["examples"] == 0 or FIGURES["runs exit 0"] > 0


def test_a_new_run_after_another_runs_fence_measures_the_lag_again() -> None:
    """Found by the machine: a fresh run found the old primary fenced and reported 'lag 0.000s',
    promoting without --accept-data-loss over an acknowledged write the standby never received."""
    machine = FailoverMachine()
    try:
        machine.start(synchronous=False)
        machine.write()
        machine.standby_lags()
        machine.tick(5)
        machine.write()
        machine.failover(accept=True, force=False, resume=False, crash="fence")
        machine.tick(61)

        machine.failover(accept=False, force=False, resume=False, crash=None)

        assert machine.world.promotions == []
        machine.failover(accept=False, force=False, resume=True, crash=None)
        assert [p.lost for p in machine.world.promotions] == [{2: 5.0}]
    finally:
        machine.teardown()


def test_an_old_primary_restarted_mid_fence_is_fenced_again_on_resume() -> None:
    """Found by the machine: the run died after `pg_ctl stop` but before `standby.signal`, the
    host came back as a writable primary; the resume must stop it again (a new effect, not a
    repeat), and still end with one primary behind the name."""
    machine = FailoverMachine()
    try:
        machine.start(synchronous=False)
        machine.failover(accept=False, crash=1, force=False, resume=False)
        machine.bring_back(name="primary")
        machine.failover(accept=False, crash=None, force=False, resume=True)
        machine.no_side_effect_twice()
        machine.no_split_brain_behind_the_name()
        stops = [e for e in machine.world.effect_log if e == ("stop -m immediate", "primary")]
        assert len(stops) == 2
    finally:
        machine.teardown()
