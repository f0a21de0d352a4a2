"""The run journal's types and what a journal says: events, one run's state, phase times. Pure.

One `Event` per journal line; `files.py` writes and reads the lines.
"""

import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Literal

Status = Literal["started", "succeeded", "failed", "skipped", "aborted"]
STATUSES: tuple[Status, ...] = ("started", "succeeded", "failed", "skipped", "aborted")
FINISHED: tuple[Status, ...] = ("succeeded", "failed", "skipped", "aborted")
RUN_STEP = "run"
"""Pseudo-step whose events open and close a run (its options ride in `evidence`)."""
DISCARD_STEP = "discard"
"""Pseudo-step an operator's `--discard RUN` appends: the run stays as it stopped, never resumed."""
PSEUDO_STEPS = (RUN_STEP, DISCARD_STEP)

PHASES = ("detect", "decide", "rebuild", "fence", "promote", "dns", "validate")
"""In order; `rebuild` is failback's own: the old primary made a standby again before the switch."""
FIELD_TYPES: dict[str, type | tuple[type, ...]] = {
    "run": str, "runbook": str, "step": str, "attempt": int, "status": str, "wall": str, "mono": (int, float),
    "reason": str, "evidence": str, "phase": str, "drill": bool}


@dataclass(frozen=True)
class Event:
    """One journal line: what happened to one step, when (wall and monotonic) and why."""

    run: str
    runbook: str
    step: str
    attempt: int
    status: Status
    wall: str
    mono: float
    reason: str = ""
    evidence: str = ""
    phase: str = ""
    drill: bool = False

    def to_line(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_line(cls, line: str) -> "Event":
        data = json.loads(line)
        if not isinstance(data, dict):
            raise ValueError(f"expected a JSON object, found {type(data).__name__}")
        wrong = [name for name, kind in FIELD_TYPES.items() if name in data and not isinstance(data[name], kind)]
        if wrong:
            raise ValueError(f"field '{wrong[0]}' has the wrong type")
        if data.get("status") not in STATUSES:
            raise ValueError(f"unknown status {data.get('status')!r}")
        return cls(**data)


@dataclass(frozen=True)
class RunState:
    """What a journal says about one run."""

    run: str
    runbook: str
    options: dict[str, Any] = field(default_factory=dict)
    finished: bool = False
    started_steps: tuple[str, ...] = ()
    done_steps: tuple[str, ...] = ()
    last_failure: str = ""
    discarded: bool = False
    stopped_at: str = ""
    """The step the run was at when it failed or was interrupted ("" when none had started)."""

    @property
    def unfinished(self) -> bool:
        """Neither finished nor discarded: a plain re-run must not start beside it."""
        return not self.finished and not self.discarded


def run_state(events: Sequence[Event]) -> RunState:
    """Fold a run's events; raises ValueError when they do not describe one run."""
    if not events:
        raise ValueError("the journal has no events")
    runs = {e.run for e in events}
    if len(runs) != 1:
        raise ValueError(f"the journal mixes runs: {', '.join(sorted(runs))}")
    opening = next((e for e in events if e.step == RUN_STEP and e.status == "started"), None)
    options = json.loads(opening.evidence) if opening and opening.evidence else {}
    if not isinstance(options, dict):
        raise ValueError("the run's options are not a JSON object")
    started = tuple(dict.fromkeys(e.step for e in events if e.status == "started" and e.step not in PSEUDO_STEPS))
    done = tuple(dict.fromkeys(e.step for e in events if e.status in ("succeeded", "skipped")
                               and e.step not in PSEUDO_STEPS))
    failures = [e.reason for e in events if e.status in ("failed", "aborted")]
    finished = any(e.step == RUN_STEP and e.status == "succeeded" for e in events)
    discarded = any(e.step == DISCARD_STEP for e in events)
    steps = [e.step for e in events if e.step not in PSEUDO_STEPS]
    return RunState(run=events[0].run, runbook=events[0].runbook, options=options, finished=finished,
                    started_steps=started, done_steps=done, last_failure=failures[-1] if failures else "",
                    discarded=discarded, stopped_at=steps[-1] if steps else "")


def of_stack(state: RunState, stack: str) -> bool:
    """The run was made for this stack (a journal from before runs named their stack counts as any)."""
    return state.options.get("stack") in (None, stack)


def resume_limitation(state: RunState, runbook: str, stack: str | None = None) -> str | None:
    """Why a journal cannot be resumed by `runbook` (on `stack`, when given), or None."""
    if state.runbook != runbook:
        return f"run {state.run} is a {state.runbook} run, not a {runbook} run"
    if stack is not None and not of_stack(state, stack):
        return f"run {state.run} is a run of stack '{state.options['stack']}', not of '{stack}' (see --inventory)"
    if state.discarded:
        return f"run {state.run} was discarded; it cannot be resumed"
    return None


def describe_stop(state: RunState) -> str:
    """Where an unfinished run stopped and why, for the refusal that names it."""
    where = f"stopped at step {state.stopped_at}" if state.stopped_at else "stopped before its first step"
    return f"{where}: {state.last_failure}" if state.last_failure else where


def unfinished_limitation(states: Iterable[RunState], runbook: str, command: str,
                          discard: str | None, stack: str | None = None) -> str | None:
    """Why a new run may not start: an unfinished run of the same runbook on the same stack exists
    (None: it may).

    Two runs of one runbook side by side would each believe their own journal; the operator
    resumes the old one or discards it, explicitly (`--discard RUN` is journalled in it). Another
    stack's run sharing the journal directory is no reason to refuse."""
    waiting = sorted((s for s in states if s.runbook == runbook and s.unfinished and s.run != discard
                      and (stack is None or of_stack(s, stack))), key=lambda s: s.run)
    if not waiting:
        return None
    last = waiting[-1]
    others = f" (and {len(waiting) - 1} older unfinished run(s))" if len(waiting) > 1 else ""
    return (f"an unfinished {runbook} run {last.run} exists{others}, {describe_stop(last)}; resume it with "
            f"`{command} --resume {last.run}`, or discard it with `{command} --discard {last.run}` "
            "(its steps stay as they are)")


@dataclass
class PhaseSpan:
    """One phase of a run as its steps' events tell it."""

    start: str
    """Wall time of the phase's first event, in journal order."""
    end: str | None
    """Wall time of its last finishing event (None while its only steps still run)."""
    earliest: datetime
    latest: datetime
    failed: bool
    steps: list[str]


def phase_spans(events: Iterable[Event]) -> dict[str, PhaseSpan]:
    """The one fold of events into phases (the runbook result and the drill timeline both use it)."""
    spans: dict[str, PhaseSpan] = {}
    for event in events:
        if not event.phase:
            continue
        when = datetime.fromisoformat(event.wall)
        span = spans.setdefault(event.phase, PhaseSpan(event.wall, None, when, when, False, []))
        span.earliest, span.latest = min(span.earliest, when), max(span.latest, when)
        if event.step not in span.steps:
            span.steps.append(event.step)
        if event.status in FINISHED:
            span.end = event.wall
        span.failed = span.failed or event.status in ("failed", "aborted")
    return spans


def phase_times(events: Iterable[Event]) -> dict[str, dict[str, str]]:
    """First start and last end (wall clock) of each phase, in the runbook's phase order."""
    spans = phase_spans(events)
    return {phase: {"start": spans[phase].start, **({"end": end} if (end := spans[phase].end) else {})}
            for phase in PHASES if phase in spans}
