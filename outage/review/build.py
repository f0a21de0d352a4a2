"""Assemble an incident review from what was recorded. Pure: every fact and time is a parameter.

Sources, each named in the review: the status log (the incident and each customer update),
the watch's and the runbooks' journals (declaration, phases, DNS change, validation), the
intake record (requests taken, replay), a drill's write probe when one ran (RTO/RPO counted
from acknowledged writes), the credit ledger, and the people's notes. A figure nobody
measured is None with the reason, never a guess.
"""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from outage.review.model import (
    ChainLink,
    CorrectiveAction,
    Findings,
    Impact,
    IncidentReview,
    Measured,
    Signing,
    TimelineEntry,
)
from outage.review.notes import ReviewNotes

WINDOW = timedelta(minutes=15)
# the order of entries recorded at the same time
ORDER = ("watch", "runbook", "dns", "update", "checklist", "intake", "replay", "resolved", "note")


@dataclass(frozen=True)
class UpdateFact:
    at: datetime
    seq: int
    state: str
    source: str
    deliveries: str = ""


@dataclass(frozen=True)
class IncidentFacts:
    """An incident as the status log folds it (outage/status), reduced to what a review needs."""

    id: str
    title: str
    impact: str
    components: tuple[str, ...]
    started_at: datetime
    resolved_at: datetime | None
    drill: bool
    updates: tuple[UpdateFact, ...]


@dataclass(frozen=True)
class IntakeFacts:
    """What the downtime intake recorded during the outage (it keeps no open/close event of its own)."""

    first_taken_at: datetime | None
    last_taken_at: datetime | None
    requests_taken: int
    replayed_at: datetime | None  # the last of those requests entered into the CRM
    replayed: int
    source: str


@dataclass(frozen=True)
class ProbeMeasurement:
    """A drill's write-probe ledger: client-observed RTO and counted losses."""

    rto_seconds: float | None
    rpo_seconds: float | None
    lost_writes: int
    source: str


@dataclass(frozen=True)
class CreditFacts:
    down_minutes: int
    owed: dict[str, str]
    customers_owed: int
    months: list[str]
    basis: str


@dataclass(frozen=True)
class Sources:
    incident: IncidentFacts
    journals: Mapping[str, Sequence[Mapping[str, Any]]]
    intake: IntakeFacts | None
    probe: ProbeMeasurement | None
    credits: CreditFacts
    notes: ReviewNotes | None
    missing: list[str] = field(default_factory=list)


def _when(event: Mapping[str, Any]) -> datetime:
    return datetime.fromisoformat(str(event["wall"]))


def in_window(events: Sequence[Mapping[str, Any]], start: datetime, end: datetime) -> bool:
    """A run belongs to the incident when one of its events falls within its span (with a margin)."""
    return any(start - WINDOW <= _when(e) <= end + WINDOW for e in events if e.get("wall"))


def _watch_entries(run: str, events: Sequence[Mapping[str, Any]]) -> list[TimelineEntry]:
    found = []
    for e in events:
        if e.get("step") == "probe" and e.get("status") == "started":
            found.append(TimelineEntry(at=_when(e), kind="watch", what="first failed probe of the watch", source=run))
        elif e.get("step") == "outage" and e.get("status") == "failed":
            reason = str(e.get("reason", ""))
            what = reason if reason.startswith("outage declared") else f"outage declared: {reason}"
            found.append(TimelineEntry(at=_when(e), kind="watch", what=what, source=run))
    return found


def _runbook_entries(run: str, events: Sequence[Mapping[str, Any]]) -> list[TimelineEntry]:
    """One entry per phase (its start, duration and steps); the DNS change and the run's end on their own."""
    phases: dict[str, list[Mapping[str, Any]]] = {}
    found = []
    for e in events:
        if e.get("step") == "run" and e.get("status") in ("succeeded", "failed", "aborted"):
            found.append(TimelineEntry(at=_when(e), kind="runbook", what=f"{e.get('runbook')} {e.get('status')}"
                                       f"{': ' + str(e['reason']) if e.get('reason') else ''}", source=run))
        elif e.get("phase"):
            phases.setdefault(str(e["phase"]), []).append(e)
        if e.get("step") == "dns" and e.get("status") == "succeeded":
            moved = e.get("evidence") or e.get("reason") or "done"
            found.append(TimelineEntry(at=_when(e), kind="dns", what=f"DNS name moved: {moved}", source=run))
    for name, items in phases.items():
        start, end = min(map(_when, items)), max(map(_when, items))
        steps = list(dict.fromkeys(str(i.get("step")) for i in items))
        failed = any(i.get("status") in ("failed", "aborted") for i in items)
        found.append(TimelineEntry(at=start, kind="runbook", what=f"phase {name} {'FAILED' if failed else 'done'} in "
                                   f"{(end - start).total_seconds():.3f} s ({', '.join(steps)})", source=run))
    return found


def _checklist_entries(run: str, events: Sequence[Mapping[str, Any]]) -> list[TimelineEntry]:
    """People's to-do items confirmed in the checklist journal (`crmdr checklist confirm`): who and when."""
    return [TimelineEntry(at=_when(e), kind="checklist", what=f"checklist: {e.get('step')} "
                          f"{e.get('reason') or 'confirmed'}", source=run)
            for e in events if e.get("status") == "succeeded"]


def _restored(journals: Mapping[str, Sequence[Mapping[str, Any]]]) -> tuple[datetime | None, str]:
    """When a write was first accepted through the DNS name again: the failover's validate step."""
    for run, events in sorted(journals.items()):
        for e in events:
            if e.get("step") == "validate" and e.get("status") == "succeeded":
                return _when(e), run
    return None, ""


def _declared(journals: Mapping[str, Sequence[Mapping[str, Any]]]) -> tuple[datetime | None, datetime | None]:
    first = declared = None
    for events in journals.values():
        for e in events:
            if e.get("runbook") == "watch" and e.get("step") == "probe" and e.get("status") == "started":
                first = _when(e) if first is None else min(first, _when(e))
            if e.get("runbook") == "watch" and e.get("step") == "outage" and e.get("status") == "failed":
                declared = _when(e) if declared is None else min(declared, _when(e))
    return first, declared


def measured(src: Sources) -> Measured:
    first, declared = _declared(src.journals)
    restored, run = _restored(src.journals)
    started = first or src.incident.started_at
    detect = (declared - first).total_seconds() if first and declared else None
    if src.probe is not None and src.probe.rto_seconds is not None:
        rto, basis = src.probe.rto_seconds, f"write probe of {src.probe.source}: first acknowledged write after " \
                                            "the disruption minus the disruption"
    elif restored is not None:
        rto = (restored - started).total_seconds()
        basis = (f"first failed probe ({'watch journal' if first else 'incident start'}) to the first write "
                 f"accepted through the DNS name (validate step of {run})")
    else:
        rto, basis = None, "no journal shows a write accepted through the DNS name after the outage"
    if src.probe is not None:
        rpo, lost = src.probe.rpo_seconds, src.probe.lost_writes
        loss = f"counted by the write probe of {src.probe.source}: acknowledged writes missing after recovery"
    else:
        rpo, lost = None, None
        loss = "no write probe ran during this incident (a drill's probe counts them)"
    return Measured(outage_started_at=started, declared_at=declared, service_restored_at=restored,
                    time_to_detect_seconds=detect, rto_seconds=rto, rto_basis=basis, rpo_seconds=rpo,
                    lost_writes=lost, loss_basis=loss)


def timeline(src: Sources) -> list[TimelineEntry]:
    entries: list[TimelineEntry] = []
    for run, events in src.journals.items():
        runbook = str(events[0].get("runbook", "")) if events else ""
        if runbook == "watch":
            entries += _watch_entries(run, events)
        elif runbook == "checklist":
            entries += _checklist_entries(run, events)
        else:
            entries += _runbook_entries(run, events)
    for u in src.incident.updates:
        what = f"customer update #{u.seq}: {u.state} ({u.source})" + (f"; {u.deliveries}" if u.deliveries else "")
        entries.append(TimelineEntry(at=u.at, kind="update", what=what, source="status log"))
    if src.intake is not None:
        taken = src.intake.requests_taken
        for at, what in ((src.intake.first_taken_at, "downtime intake: first request taken"),
                         (src.intake.last_taken_at, f"downtime intake: last request taken ({taken} in all)"),
                         (src.intake.replayed_at, f"replay into the CRM done ({src.intake.replayed} of {taken} "
                                                  "entered)")):
            if at is not None:
                entries.append(TimelineEntry(at=at, kind="replay" if "replay" in what else "intake", what=what,
                                             source=src.intake.source))
    if src.incident.resolved_at is not None:
        entries.append(TimelineEntry(at=src.incident.resolved_at, kind="resolved", what="incident resolved",
                                     source="status log"))
    return sorted(entries, key=lambda e: (e.at, ORDER.index(e.kind)))


def findings(notes: ReviewNotes | None) -> Findings:
    if notes is None:
        return Findings(root_cause="not entered yet (write the review notes file and run the review again)",
                        contributing_factors=[], corrective_actions=[], checklist_changes=[], entered_by=[])
    return Findings(root_cause=notes.root_cause, contributing_factors=list(notes.contributing_factors),
                    corrective_actions=[CorrectiveAction(**a.model_dump()) for a in notes.actions],
                    checklist_changes=list(notes.checklist_changes), entered_by=list(notes.entered_by))


def build_review(src: Sources, *, now: datetime, report_id: str, chain: ChainLink, signing: Signing) -> IncidentReview:
    incident = src.incident
    intake = src.intake
    impact = Impact(
        down_minutes=src.credits.down_minutes, components=list(incident.components),
        requests_taken=intake.requests_taken if intake else None,
        requests_basis=f"intake record {intake.source}" if intake else "no intake record for this incident",
        credits_owed=src.credits.owed, customers_owed=src.credits.customers_owed, credit_months=src.credits.months,
        credits_basis=src.credits.basis)
    read = [f"status log: incident {incident.id} ({len(incident.updates)} update(s))",
            *[f"journal {run}" for run in sorted(src.journals)]]
    return IncidentReview(
        report_id=report_id, incident_id=incident.id, title=incident.title, impact_level=incident.impact,
        drill=incident.drill, generated_at=now, timeline=timeline(src), measured=measured(src), impact=impact,
        findings=findings(src.notes), sources=[*read, *src.missing], chain=chain, signing=signing)


def review_id(now: datetime, incident_id: str) -> str:
    return f"{now:%Y%m%dT%H%M%SZ}-review-{incident_id}"[:120]


def relevant(journals: Iterable[tuple[str, Sequence[Mapping[str, Any]]]], start: datetime,
             end: datetime) -> dict[str, Sequence[Mapping[str, Any]]]:
    """The runs (watch, failover, ...) with an event in the incident's span."""
    return {run: events for run, events in journals if events and in_window(events, start, end)}
