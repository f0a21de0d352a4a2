"""Declared outages from the journals, as spans for the ledger. Pure.

The watch journals an outage from its first failed probe to the declaration; when it fails
over, it stops probing, so the rest of the outage is the failover's: the span ends at the
first write accepted through the DNS name again (the failover's validate step). Without such
a step the span ends at the declaration (nothing later was measured). Drill journals never
become spans: a drill is not downtime customers are credited for.
"""

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from outage.credits.series import Span

FAILOVER_WITHIN = timedelta(hours=1)


def _at(event: Mapping[str, Any]) -> datetime:
    return datetime.fromisoformat(str(event["wall"]))


def outage_spans(runs: Iterable[tuple[str, Sequence[Mapping[str, Any]]]], components: frozenset[str]) -> list[Span]:
    """One span per declared outage of a watch journal that is not a drill."""
    runs = list(runs)
    restored = sorted(_at(e) for _, events in runs for e in events
                      if e.get("runbook") == "failover" and e.get("step") == "validate"
                      and e.get("status") == "succeeded" and not e.get("drill"))
    spans = []
    for run, events in runs:
        if not events or events[0].get("runbook") != "watch" or any(e.get("drill") for e in events):
            continue
        first = next((_at(e) for e in events if e.get("step") == "probe" and e.get("status") == "started"), None)
        declared = next((_at(e) for e in events if e.get("step") == "outage" and e.get("status") == "failed"), None)
        if first is None or declared is None:
            continue
        end = next((t for t in restored if declared <= t <= declared + FAILOVER_WITHIN), declared)
        spans.append(Span(first, end, components, f"journal {run}"))
    return spans
