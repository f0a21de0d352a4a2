"""Running a runbook: survey -> (dry run | no-op) -> preflight -> confirm -> lock -> steps -> notices.

Nothing changes before the lock is held: preflight only reads, and a refusal (exit 3)
leaves no journal, no lock and no notice behind. While steps run, a heartbeat renews the
lease and sends a status notice every `status_notice_every` of the tier.
"""

import json
import logging
import shlex
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Generic, Literal, Protocol, TypeVar

from policies.errors import ConfigError, DrError, Interrupted, Refused, interrupted
from policies.sla import Tier
from recovery.inventory import Inventory
from recovery.ports import Clock, Lock, Notifier, ObjectStore
from recovery.runbooks.decisions import Truth, notice_due, plan_steps, render_plan
from recovery.runbooks.engine import Engine, Step, survey
from recovery.runbooks.journal.events import (
    DISCARD_STEP,
    RunState,
    phase_times,
    resume_limitation,
    run_state,
    unfinished_limitation,
)
from recovery.runbooks.journal.files import Journal, default_journal_dir, new_run_id, read_events, read_runs
from recovery.runbooks.notices import BackgroundNotices
from recovery.runbooks.progress import StepProgress
from recovery.watch.decide import Detection

log = logging.getLogger(__name__)

RECORDED = ("accept_data_loss", "force_unfenced", "drill", "target", "point", "to_time")


def _quiet(message: str) -> None:
    log.info("%s", message)


@dataclass(frozen=True)
class Options:
    """What the operator asked for; `confirm` sees the plan and says yes or no."""

    dry_run: bool = False
    resume: str | None = None
    discard: str | None = None  # an unfinished run of this runbook the operator gives up (journalled in it)
    command: str = ""  # how the operator called this runbook (`crmdr failover --inventory ...`): for resume lines
    accept_data_loss: bool = False
    force_unfenced: bool = False
    drill: bool = False
    target: str | None = None
    point: str | None = None  # restore: the recovery point id (None: the newest)
    to_time: str | None = None  # restore: ISO-8601 recovery target time (None: end of the archive)
    journal_dir: Path = field(default_factory=default_journal_dir)
    policy: Path | None = None
    confirm: Callable[[list[str]], bool] | None = None
    report: Callable[[str], None] = _quiet
    run_id: str = ""
    done_in_run: tuple[str, ...] = ()
    detection: Detection | None = None

    def recorded(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in RECORDED}

    def invocation(self, runbook: str) -> str:
        """The operator's command line, else one that finds this run's journal (drills, the watch)."""
        if self.command:
            return self.command
        if self.journal_dir == default_journal_dir():
            return f"crmdr {runbook}"
        return f"crmdr {runbook} --journal-dir {shlex.quote(str(self.journal_dir))}"


@dataclass(frozen=True)
class RunResult:
    """The outcome a person, a test or a drill reads; phases carry wall-clock start/end."""

    runbook: str
    run_id: str
    status: Literal["succeeded", "noop", "dry-run"]
    message: str
    plan: tuple[str, ...] = ()
    journal: str | None = None
    phases: dict[str, dict[str, str]] = field(default_factory=dict)
    primary: str = ""
    notices: tuple[str, ...] = ()
    steps: tuple[dict[str, object], ...] = ()  # the plan as objects (plan_steps)

    def to_dict(self) -> dict[str, Any]:
        """Machine output: no run id when no run happened (dry run, nothing to do); the plan as objects."""
        return {"runbook": self.runbook, "run_id": self.run_id or None, "status": self.status,
                "message": self.message, "plan": list(self.steps), "plan_text": list(self.plan),
                "journal": self.journal, "phases": self.phases, "primary": self.primary or None,
                "notices": list(self.notices)}


class RunSite(Protocol):
    """What the engine needs of a site, whether it drives SSH hosts or RDS instances."""

    @property
    def inventory(self) -> Inventory: ...

    @property
    def tier(self) -> Tier: ...

    @property
    def lock(self) -> Lock: ...

    @property
    def notifier(self) -> Notifier: ...

    @property
    def store(self) -> ObjectStore: ...

    @property
    def clock(self) -> Clock: ...

    @property
    def secrets(self) -> list[str]: ...


S = TypeVar("S", bound=RunSite)


@dataclass(frozen=True)
class Runbook(Generic[S]):
    """A named list of steps, a read-only preflight and the node expected primary at the end."""

    name: str
    resolve: Callable[[S, Options], Options]
    steps: Callable[[S, Options], list[Step]]
    preflight: Callable[[S, Options, Sequence[Truth]], str]
    primary_after: Callable[[S, Options], str]


class Heartbeat:
    """Renews the lease and sends periodic status notices while the steps run."""

    def __init__(self, site: RunSite, engine: Engine, subject: str, every_seconds: float) -> None:
        self._site, self._engine, self._subject = site, engine, subject
        self._every = every_seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="crmdr-heartbeat", daemon=True)

    def __enter__(self) -> "Heartbeat":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _loop(self) -> None:
        from datetime import timedelta

        last = self._site.clock.now()
        tick = max(1.0, min(self._site.inventory.lock.lease_seconds / 3, self._every))
        while not self._stop.wait(tick):
            self._site.lock.renew()
            now = self._site.clock.now()
            if notice_due(last, now, timedelta(seconds=self._every)):
                last = now
                self._site.notifier.publish(f"{self._subject}: running",
                                            f"{now.isoformat(timespec='seconds')} still running, "
                                            f"current step: {self._engine.current}")


def _resumed(runbook: Runbook[Any], options: Options, stack: str) -> tuple[Options, RunState | None]:
    if not options.resume:
        return options, None
    raise_if = read_events(options.resume, options.journal_dir)
    try:
        state = run_state(raise_if)
    except ValueError as err:
        raise ConfigError(f"--resume {options.resume}: {options.journal_dir / options.resume}.jsonl: {err}") from None
    reason = resume_limitation(state, runbook.name, stack)
    if reason:
        raise ConfigError(f"--resume {options.resume}: {reason}")
    merged = {k: v for k, v in state.options.items() if k in RECORDED and v}
    return replace(options, **merged, done_in_run=state.done_steps), state


def execute(runbook: Runbook[S], site: S, options: Options) -> RunResult:
    """Run (or plan, or resume) one runbook against the site."""
    options, state = _resumed(runbook, options, site.inventory.stack)
    if state is not None and state.finished:
        return RunResult(runbook.name, state.run, "noop", f"run {state.run} already finished; nothing to do")
    if state is None and not options.dry_run:
        _refuse_unfinished(runbook, options, site.inventory.stack)
    started = (site.clock.now(), site.clock.monotonic())
    options = runbook.resolve(site, replace(options, run_id=options.resume or new_run_id(site.clock, runbook.name)))
    steps = runbook.steps(site, options)
    rows = survey(steps)
    plan = render_plan(runbook.name, rows)
    structured = tuple(plan_steps([step.phase for step in steps], rows))
    if options.dry_run:
        return RunResult(runbook.name, "", "dry-run", "dry run: nothing was changed", tuple(plan), steps=structured)
    effects = [truth for step, (_, _, truth) in zip(steps, rows, strict=True) if step.phase != "validate"]
    if state is None and all(truth.done for truth in effects):
        detail = "; ".join(f"{name}: {truth.detail}" for name, _, truth in rows if truth.done)
        return RunResult(runbook.name, "", "noop", f"nothing to do: {runbook.name} is already done ({detail})",
                         tuple(plan), primary=runbook.primary_after(site, options), steps=structured)
    evidence = runbook.preflight(site, options, [truth for _, _, truth in rows])
    if options.confirm is not None and not options.confirm(plan):
        raise Refused(f"{runbook.name} not confirmed; nothing was changed")
    deciding = (site.clock.now(), site.clock.monotonic())
    site.lock.acquire(options.run_id)
    return replace(_locked(runbook, site, options, steps, plan, evidence, (started, deciding)), steps=structured)


def _refuse_unfinished(runbook: Runbook[Any], options: Options, stack: str) -> None:
    """A new run never starts beside an unfinished one of the same runbook and stack (exit 3), unless discarded."""
    states = read_runs(options.journal_dir, runbook.name)
    if options.discard:
        known = {state.run: state for state in states}
        if options.discard not in known or not known[options.discard].unfinished:
            raise ConfigError(f"--discard {options.discard}: no unfinished {runbook.name} run of that id in "
                              f"{options.journal_dir}")
    reason = unfinished_limitation(states, runbook.name, options.invocation(runbook.name), options.discard, stack)
    if reason:
        raise Refused(f"{reason}; nothing was changed")


def _discard(runbook: Runbook[Any], site: RunSite, options: Options) -> None:
    """Journal the operator's choice in the discarded run itself, so no one resumes it later."""
    if not options.discard:
        return
    old = Journal(options.discard, runbook.name, options.journal_dir, site.clock, mirror=site.store,
                  secrets=site.secrets, drill=options.drill)
    old.record(DISCARD_STEP, "succeeded", reason=f"discarded by the operator; superseded by run {options.run_id}")
    old.flush()


def _interrupted(runbook: Runbook[Any], site: RunSite, options: Options, journal: Journal, engine: Engine,
                 notices: BackgroundNotices, subject: str, signal: Interrupted) -> Interrupted:
    """Journal the stop (the step aborted, the run aborted), tell the notifier, say how to resume."""
    step = engine.step
    where = (f"step {step.name}" if step else f"after step {engine.current}" if engine.current
             else "before its first step")
    reason = f"interrupted by {signal.signal_name}"
    if step is not None:
        journal.record(step.name, "aborted", reason=reason, phase=step.phase)
    journal.record("run", "aborted", reason=f"{reason} {'at ' if step else ''}{where}")
    resume = f"{options.invocation(runbook.name)} --resume {options.run_id}"
    notices.publish(f"{subject}: INTERRUPTED", _notice(site, options, f"interrupted at {where}",
                                                        f"{reason}\nresume: {resume}"))
    return signal.with_message(f"{runbook.name} {reason} {'at ' if step else ''}{where} "
                               f"(run {options.run_id}); resume: {resume}")


def _subject(runbook: Runbook[Any], site: RunSite, options: Options) -> str:
    return f"{'[DRILL] ' if options.drill else ''}crmdr {runbook.name} {site.inventory.stack}"


def _locked(runbook: Runbook[S], site: S, options: Options, steps: list[Step], plan: list[str],
            evidence: str, times: tuple[tuple[Any, float], tuple[Any, float]]) -> RunResult:
    journal = Journal(options.run_id, runbook.name, options.journal_dir, site.clock, mirror=site.store,
                      secrets=site.secrets, drill=options.drill)
    subject = _subject(runbook, site, options)
    started, deciding = times
    engine = Engine(journal)
    notices = BackgroundNotices(site.notifier)
    try:
        _discard(runbook, site, options)
        journal.record("run", "started", evidence=json.dumps({**options.recorded(), "stack": site.inventory.stack},
                                                             sort_keys=True),
                       reason="resumed" if options.resume else "", at=started)
        _record_detection(journal, options.detection)
        journal.record("preflight", "started", phase="detect", at=started)
        journal.record("preflight", "succeeded", evidence=evidence, phase="detect")
        journal.record("lock", "started", phase="decide", at=deciding)
        journal.record("lock", "succeeded", phase="decide", evidence=f"held by {site.lock.holder}")
        verb = "resumed" if options.resume else "started"
        notices.publish(f"{subject}: {verb}", _notice(site, options, verb, "\n".join(plan)))
        ends = {step.name for i, step in enumerate(steps) if i + 1 == len(steps) or steps[i + 1].phase != step.phase}

        progress = StepProgress(site.clock, options.report)

        def on_done(step: Step, status: str) -> None:
            options.report(progress.finished(step.name, status))
            if step.name in ends:
                notices.publish(f"{subject}: {step.phase} done",
                                      _notice(site, options, f"phase {step.phase} done", step.describe))

        engine.on_done = on_done
        with Heartbeat(site, engine, subject, site.tier.status_notice_every.total_seconds()), \
                progress.watching(lambda: engine.current):
            try:
                engine.run(steps)
            except DrError as err:
                journal.record("run", "failed", reason=str(err))
                resume = f"{options.invocation(runbook.name)} --resume {options.run_id}"
                notices.publish(f"{subject}: FAILED", _notice(
                    site, options, f"failed at step {engine.current}", f"{err}\nresume: {resume}"))
                raise type(err)(f"{runbook.name} failed at step {engine.current}: {err} (resume: "
                                f"{options.invocation(runbook.name)} --resume {options.run_id})") from None
        journal.record("run", "succeeded")
        primary = runbook.primary_after(site, options)
        notices.publish(f"{subject}: done", _notice(site, options, "done", f"primary is now {primary}"))
    except KeyboardInterrupt as err:
        raise _interrupted(runbook, site, options, journal, engine, notices, subject,
                           interrupted(err)) from None
    finally:
        notices.flush()
        journal.flush()
        site.lock.release()
    events = read_events(options.run_id, options.journal_dir)
    return RunResult(runbook.name, options.run_id, "succeeded", f"{runbook.name} done: {primary} is the primary",
                     tuple(plan), str(journal.path), phase_times(events), primary, tuple(notices.sent))


def _record_detection(journal: Journal, found: Detection | None) -> None:
    """A watch's outage opens the detect phase at its first failed probe (crmdr watch)."""
    if found is not None:
        journal.record("watch", "started", phase="detect", at=(found.first_failure, found.first_failure_mono))
        journal.record("watch", "succeeded", phase="detect", evidence=found.evidence,
                       at=(found.declared, found.declared_mono))


def _notice(site: RunSite, options: Options, state: str, detail: str) -> str:
    """Timestamped, honest, marked as a drill when it is one."""
    kind = "DRILL (not a real outage)" if options.drill else "REAL RECOVERY"
    return (f"{site.clock.now().isoformat(timespec='seconds')} {kind}\nstack {site.inventory.stack}, "
            f"run {options.run_id}: {state}\n{detail}")
