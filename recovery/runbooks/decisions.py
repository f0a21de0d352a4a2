"""Pure decisions of the runbooks: step truths, refusals, guards, plan lines. No I/O.

Everything here takes a snapshot (journal events, measured lag, a node's live identity)
and `now`, and returns a value or a reason; the engine and the runbooks do the rest.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from recovery.wal.segments import parse_lsn


@dataclass(frozen=True)
class Truth:
    """A step's check: is its effect already in place, and what was seen."""

    done: bool
    detail: str


def dns_truth(records: Mapping[str, Mapping[str, Any]], primary: str, secondary: str) -> Truth:
    """The failover records point PRIMARY at `primary` and SECONDARY at `secondary` (addresses)."""
    seen = {role: str(rec["ResourceRecords"][0]["Value"]) for role, rec in records.items()}
    return Truth(seen == {"PRIMARY": primary, "SECONDARY": secondary},
                 f"PRIMARY -> {seen.get('PRIMARY')}, SECONDARY -> {seen.get('SECONDARY')}")


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


def fenced_lag_limitation(old: str, fenced_by: str | None, command: str, journal_dir: str) -> str:
    """Why a new run refuses when the old primary is already fenced and no earlier measurement holds.

    A fenced primary answers no lag query and the standby's receiver only tells the time since the
    fence: when crm-dr fenced it, the figure is in that run's journal, so the way on is its resume,
    never --accept-data-loss."""
    if fenced_by:
        return (f"{old} is already fenced by run {fenced_by}, so the standby's lag can no longer be read from "
                f"it; that run measured the lag before it fenced: resume it with `{command} --resume {fenced_by}`")
    return (f"{old} is already fenced (stopped, standby.signal) and no crm-dr run in {journal_dir} fenced it, "
            "so the standby's lag cannot be measured; compare the LSNs by hand, then pass --accept-data-loss")


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


def timeline_fork(node: str, timeline: int, upstream: str, upstream_timeline: int) -> str | None:
    """Why `node` cannot stream from `upstream`: its timeline is newer than any the upstream has (it
    was restored or promoted on its own), or None. Such a node is rewound or re-cloned first."""
    if timeline > upstream_timeline:
        return (f"{node} is on timeline {timeline}, ahead of {upstream}'s highest timeline {upstream_timeline} "
                f"(a restore or promotion forked it)")
    return None


def streaming_stall(node: str, upstream: str, problems: Sequence[str]) -> str:
    """What to say when a standby does not stream: the server's own last complaint, when it made one."""
    if problems:
        return f"{node} does not stream from {upstream}; its server log says: {problems[-1]}"
    return f"{node} does not stream from {upstream}; its server log names no error"


def divergence(target_timeline: int, target_end: str, history: str) -> str | None:
    """Why a node whose WAL ends at `target_end` on `target_timeline` cannot follow a primary with
    this timeline history, or None. pg_rewind can answer "no rewind required" for a node that was
    restarted read-only after a crash, though its WAL runs past the fork: this catches that."""
    for line in history.splitlines():
        fields = line.split()
        if len(fields) >= 2 and fields[0].isdigit() and int(fields[0]) == target_timeline:
            if parse_lsn(target_end) > parse_lsn(fields[1]):
                return f"its WAL ends at {target_end}, past the fork of timeline {target_timeline} at {fields[1]}"
            return None
    return None
