"""The drill's timeline: its own phases plus the runbook's, read from the run journal. Pure.

Journal lines carry `step`, `status`, `wall` (ISO time) and `phase` (detect, decide, fence,
promote, dns, validate, ...); a phase spans from its first step's start to its last step's
end, and it failed if any of its steps failed.
"""

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from drills.report.model import Phase

FINAL = ("succeeded", "failed", "skipped", "aborted")


@dataclass
class _Span:
    start: datetime
    end: datetime
    status: str
    steps: list[str]


def journal_events(text: str) -> list[dict[str, Any]]:
    """Journal lines as dicts; a torn last line (a crash mid-write) is ignored."""
    events = []
    for line in text.splitlines():
        try:
            events.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return events


def runbook_phases(events: Iterable[Mapping[str, Any]], origin: datetime, prefix: str = "") -> list[Phase]:
    """Phases of a runbook run, with offsets from `origin` (the drill's start)."""
    spans: dict[str, _Span] = {}
    for event in events:
        phase = str(event.get("phase") or "")
        if not phase or event.get("step") == "run":
            continue
        when = datetime.fromisoformat(str(event["wall"]))
        span = spans.setdefault(phase, _Span(when, when, "succeeded", []))
        span.start, span.end = min(span.start, when), max(span.end, when)
        step = str(event.get("step", ""))
        if step not in span.steps:
            span.steps.append(step)
        if event.get("status") in ("failed", "aborted"):
            span.status = "failed"
    return [phase_at(f"{prefix}{name}", span.start, span.end, origin, span.status, ", ".join(span.steps))
            for name, span in sorted(spans.items(), key=lambda item: item[1].start)]


def phase_at(name: str, start: datetime, end: datetime, origin: datetime, status: str = "succeeded",
             detail: str = "") -> Phase:
    return Phase(name=name, status=status, started_at=start,
                 offset_seconds=round((start - origin).total_seconds(), 6),
                 duration_seconds=round(max(0.0, (end - start).total_seconds()), 6), detail=detail)
