"""Pure decisions of the runbooks: journal events, resume state, refusals, phases. No I/O.

Everything here takes a snapshot (journal events, measured lag, a node's live identity)
and `now`, and returns a value or a reason; the engine and the runbooks do the rest.
"""

import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

Status = Literal["started", "succeeded", "failed", "skipped", "aborted"]
STATUSES: tuple[Status, ...] = ("started", "succeeded", "failed", "skipped", "aborted")
RUN_STEP = "run"
"""Pseudo-step whose events open and close a run (its options ride in `evidence`)."""

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
class Truth:
    """A step's check: is its effect already in place, and what was seen."""

    done: bool
    detail: str


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
    started = tuple(dict.fromkeys(e.step for e in events if e.status == "started" and e.step != RUN_STEP))
    done = tuple(dict.fromkeys(e.step for e in events if e.status in ("succeeded", "skipped")
                               and e.step != RUN_STEP))
    failures = [e.reason for e in events if e.status in ("failed", "aborted")]
    finished = any(e.step == RUN_STEP and e.status == "succeeded" for e in events)
    return RunState(run=events[0].run, runbook=events[0].runbook, options=options, finished=finished,
                    started_steps=started, done_steps=done, last_failure=failures[-1] if failures else "")


def resume_limitation(state: RunState, runbook: str) -> str | None:
    """Why a journal cannot be resumed by `runbook`, or None."""
    if state.runbook != runbook:
        return f"run {state.run} is a {state.runbook} run, not a {runbook} run"
    return None


def phase_times(events: Iterable[Event]) -> dict[str, dict[str, str]]:
    """First start and last end (wall clock) of each phase, from its steps' events."""
    found: dict[str, dict[str, str]] = {}
    for event in events:
        if not event.phase:
            continue
        times = found.setdefault(event.phase, {})
        if event.status == "started" or "start" not in times:
            times.setdefault("start", event.wall)
        if event.status in ("succeeded", "skipped", "failed", "aborted"):
            times["end"] = event.wall
    return {phase: found[phase] for phase in PHASES if phase in found}


def lag_limitation(lag_seconds: float | None, max_lag: timedelta, *, accept_data_loss: bool,
                   synchronous: bool) -> str | None:
    """Why promoting would lose more than the tier allows, or None."""
    if accept_data_loss:
        return None
    limit = max_lag.total_seconds()
    if lag_seconds is None:
        if synchronous:
            return None
        return ("the standby's replication lag is unknown (primary unreachable, no WAL receiver); "
                "promoting may lose data: pass --accept-data-loss to proceed")
    if lag_seconds > limit:
        return (f"the standby lags {lag_seconds:.1f}s behind, above the tier's maximum of {limit:g}s; "
                "promoting would lose data: pass --accept-data-loss to proceed")
    return None


@dataclass(frozen=True)
class Identity:
    """Who a host says it is, read live just before a destructive step."""

    name: str
    running: bool
    in_recovery: bool | None
    system_id: str | None = None


def guard_limitation(action: str, expected_name: str, live: Identity, *, want_primary: bool | None,
                     expected_system_id: str | None = None) -> str | None:
    """Blast-radius guard: refuse to act on a host that is not the one, or not in the role, expected.

    `want_primary` True: the host must be a running primary; False: it must not be a running
    primary (stopped, or in recovery); None: any role.
    """
    if live.name != expected_name:
        return (f"refusing to {action}: the host answers as '{live.name}', expected '{expected_name}' "
                "(the inventory may name the wrong host)")
    if expected_system_id and live.system_id and live.system_id != expected_system_id:
        return (f"refusing to {action} on {expected_name}: its system identifier {live.system_id} "
                f"differs from the cluster's {expected_system_id}")
    live_primary = live.running and live.in_recovery is False
    if want_primary is True and not live_primary:
        return f"refusing to {action} on {expected_name}: it is not a running primary"
    if want_primary is False and live_primary:
        return (f"refusing to {action} on {expected_name}: it is a running primary taking writes "
                "(fence it first)")
    return None


def lsn_to_int(lsn: str) -> int:
    """'16/B374D848' -> byte position, for comparing WAL positions."""
    high, _, low = lsn.strip().partition("/")
    return (int(high, 16) << 32) + int(low, 16)


def notice_due(last_sent: datetime, now: datetime, every: timedelta) -> bool:
    """A periodic status notice is due."""
    return now - last_sent >= every


def render_plan(runbook: str, rows: Sequence[tuple[str, str, Truth]]) -> list[str]:
    """Human lines of a plan: each step, what it does and its check's current truth."""
    lines = [f"{runbook} plan:"]
    for index, (name, describe, truth) in enumerate(rows, start=1):
        mark = "DONE " if truth.done else "TO DO"
        lines.append(f"  {index}. {mark} {name:<15} {describe} -- now: {truth.detail}")
    return lines


def plan_steps(phases: Sequence[str], rows: Sequence[tuple[str, str, Truth]]) -> list[dict[str, object]]:
    """The plan for machines (`--json`): each step an object with its name, phase and current truth."""
    return [{"index": index, "name": name, "phase": phase, "does": describe,
             "truth": {"done": truth.done, "detail": truth.detail}}
            for index, (phase, (name, describe, truth)) in enumerate(zip(phases, rows, strict=True), start=1)]


def redact(text: str, secrets: Iterable[str], limit: int = 600) -> str:
    """Scrub secrets from evidence and keep it short."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text if len(text) <= limit else text[: limit - 3] + "..."


def divergence(target_timeline: int, target_end: str, history: str) -> str | None:
    """Why a node whose WAL ends at `target_end` on `target_timeline` cannot follow a primary with
    this timeline history, or None. pg_rewind can answer "no rewind required" for a node that was
    restarted read-only after a crash, though its WAL runs past the fork: this catches that."""
    for line in history.splitlines():
        fields = line.split()
        if len(fields) >= 2 and fields[0].isdigit() and int(fields[0]) == target_timeline:
            if lsn_to_int(target_end) > lsn_to_int(fields[1]):
                return f"its WAL ends at {target_end}, past the fork of timeline {target_timeline} at {fields[1]}"
            return None
    return None
