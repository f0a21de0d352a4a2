"""The drill's timeline: its own phases plus the runbook's, read from the run journal. Pure.

The runbook's phases come from the journal's one phase fold (`phase_spans`): a phase spans
from its steps' earliest event to their latest, and it failed if any of its steps failed.
"""

from collections.abc import Iterable
from datetime import datetime

from drills.report.model import Phase
from recovery.runbooks.journal.events import RUN_STEP, Event, phase_spans


def journal_events(text: str) -> list[Event]:
    """Journal lines as events; a torn last line (a crash mid-write) is ignored."""
    events = []
    for line in text.splitlines():
        try:
            events.append(Event.from_line(line))
        except (ValueError, TypeError):
            continue
    return events


def runbook_phases(events: Iterable[Event], origin: datetime, prefix: str = "") -> list[Phase]:
    """Phases of a runbook run, with offsets from `origin` (the drill's start)."""
    spans = phase_spans(e for e in events if e.step != RUN_STEP)
    return [phase_at(f"{prefix}{name}", span.earliest, span.latest, origin, "failed" if span.failed else "succeeded",
                     ", ".join(span.steps))
            for name, span in sorted(spans.items(), key=lambda item: item[1].earliest)]


def phase_at(name: str, start: datetime, end: datetime, origin: datetime, status: str = "succeeded",
             detail: str = "") -> Phase:
    return Phase(name=name, status=status, started_at=start,
                 offset_seconds=round((start - origin).total_seconds(), 6),
                 duration_seconds=round(max(0.0, (end - start).total_seconds()), 6), detail=detail)
