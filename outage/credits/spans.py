"""Declared outages from the journals and the status log, as spans for the ledger. Pure.

The watch journals an outage from its first failed probe to the declaration; when it fails
over, it stops probing, so the rest of the outage is the failover's: the span ends at the
first write accepted through the DNS name again (the failover's validate step). Without such
a step the span ends at the declaration (nothing later was measured). Drill journals never
become spans: a drill is not downtime customers are credited for.
"""

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

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


class IncidentLike(Protocol):
    """What an incident of the status log says about when and what was down."""

    @property
    def id(self) -> str: ...

    @property
    def impact(self) -> str: ...

    @property
    def components(self) -> tuple[str, ...]: ...

    @property
    def started_at(self) -> datetime: ...

    @property
    def resolved_at(self) -> datetime | None: ...

    @property
    def drill(self) -> bool: ...


def incident_spans(incidents: Iterable[IncidentLike], components: frozenset[str], now: datetime) -> list[Span]:
    """A major or critical incident, not a drill, is down from its start to its resolution (or `now`).

    It applies to the components it names that the credit policy knows; naming none of them, to
    every component (a declared outage counts for the customer, not against them).
    """
    spans = []
    for incident in incidents:
        if incident.drill or incident.impact not in ("major", "critical"):
            continue
        named = frozenset(incident.components) & components
        spans.append(Span(incident.started_at, incident.resolved_at or now, named or components,
                          f"incident {incident.id}"))
    return spans
