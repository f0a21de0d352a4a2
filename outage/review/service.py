"""Composition of `crmdr incident review | actions | history`: gather the sources, build, sign, chain.

The sources are ports (status log, journals, intake, drill probe); the publisher (signature and
hash chain, the drill reports' layout) is given by the caller, since it lives in drills/.
Credits owed come from the same ledger as `crmdr credits`, for the month(s) the outage touched.
"""

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

from outage.credits.customers import Customer
from outage.credits.ledger import build_ledger
from outage.credits.ports import AvailabilitySeries
from outage.credits.series import Month, Span, component_months
from outage.review.actions import OpenAction, open_actions
from outage.review.build import (
    WINDOW,
    CreditFacts,
    IncidentFacts,
    Sources,
    build_review,
    measured,
    relevant,
    review_id,
)
from outage.review.history import DrillSummary, history, render_history
from outage.review.model import IncidentReview
from outage.review.notes import ReviewNotes, load_notes
from outage.review.ports import IncidentSource, IntakeSource, JournalSource, ProbeSource, Publisher
from outage.review.render import render_all
from policies.credits import CreditPolicy
from policies.errors import ConfigError

if TYPE_CHECKING:
    from recovery.inventory import Inventory

log = logging.getLogger(__name__)
DEFAULT_NOTES = Path(".crmdr/incidents")


@dataclass(frozen=True)
class ReviewWorld:
    incidents: IncidentSource
    journals: JournalSource
    intake: IntakeSource
    probe: ProbeSource
    publisher: Publisher
    series: AvailabilitySeries


class NoIntake:
    """IntakeSource when no downtime intake is connected: the review says so."""

    def facts(self, incident: IncidentFacts) -> None:
        return None


def find_incident(source: IncidentSource, incident_id: str) -> IncidentFacts:
    incidents = source.incidents()
    for incident in incidents:
        if incident.id == incident_id:
            return incident
    known = ", ".join(sorted(i.id for i in incidents)[-5:]) or "none"
    raise ConfigError(f"incident {incident_id}: not in the status log (recent incidents: {known})")


def months_between(start: datetime, end: datetime) -> list[Month]:
    months, month = [], Month.of(start)
    while month.start < end:
        months.append(month)
        month = month.next()
    return months


def credit_facts(span: Span, policy: CreditPolicy, customers: Sequence[Customer] | None,
                 series: AvailabilitySeries, now: datetime) -> CreditFacts:
    """Down minutes of the outage, and the credits the touched months' ledgers owe (so far)."""
    rule, down, count = policy.downtime_minute, 0, 0
    owed: dict[str, str] = {}
    months = months_between(span.start, span.end)
    for month in months:
        buckets = series.read(month)
        near = [b for b in buckets if span.start - WINDOW <= b.minute <= span.end + WINDOW]
        down += len(component_months(near, [span], month, ["database"], rule, until=now)["database"].down)
        if customers:
            ledger = build_ledger(policy, customers, buckets, [span], month, now)
            count += sum(1 for line in ledger.lines if line.owed)
            for currency, amount in ledger.total().items():
                owed[currency] = str(Decimal(owed.get(currency, "0")) + amount)
    names = ", ".join(str(m) for m in months)
    final = all(m.end <= now for m in months)
    if customers is None:
        basis = "no customers given (--customers FILE or the CRM's accounts): credits not computed"
    else:
        basis = (f"ledger of {names} ({'final' if final else 'provisional: month not over'}), all downtime of "
                 f"the month counted, as `crmdr credits --month` shows it")
    return CreditFacts(down_minutes=down, owed=owed, customers_owed=count, months=[str(m) for m in months],
                       basis=basis)


def notes_for(incident_id: str, notes_dir: Path) -> ReviewNotes | None:
    path = notes_dir / f"{incident_id}.yaml"
    if not path.exists():
        return None
    notes = load_notes(path)
    if notes.incident != incident_id:
        raise ConfigError(f"{path}: field 'incident': names {notes.incident!r}, expected {incident_id!r}")
    return notes


def review_incident(incident_id: str, world: ReviewWorld, policy: CreditPolicy,
                    customers: Sequence[Customer] | None, notes_dir: Path, *,
                    now: datetime) -> tuple[IncidentReview, Path]:
    """Gather, build, sign and chain the review of one incident; returns it and its directory."""
    notes = notes_for(incident_id, notes_dir)
    incident = find_incident(world.incidents, incident_id)
    end = incident.resolved_at or now
    journals = relevant(world.journals.runs(), incident.started_at, end)
    missing = [] if notes else [f"review notes: {notes_dir / (incident_id + '.yaml')} not written yet"]
    draft = Sources(incident=incident, journals=journals, intake=world.intake.facts(incident),
                    probe=world.probe.measurement(incident), credits=CreditFacts(0, {}, 0, [], ""), notes=notes,
                    missing=missing)
    times = measured(draft)
    start = times.outage_started_at or incident.started_at
    restored = times.service_restored_at or incident.resolved_at or now
    span = Span(start, restored, frozenset(policy.components), f"incident {incident.id}")
    sources = Sources(**{**draft.__dict__, "credits": credit_facts(span, policy, customers, world.series, now)})
    review = build_review(sources, now=now, report_id=review_id(now, incident.id), chain=world.publisher.head(),
                          signing=world.publisher.signing())
    return review, world.publisher.publish(review, render_all(review))


def all_notes(notes_dir: Path) -> list[ReviewNotes]:
    """Every notes file of the directory; a bad one is a ConfigError naming its file, line and field."""
    return [load_notes(path) for path in sorted(notes_dir.glob("*.yaml"))] if notes_dir.is_dir() else []


def actions(notes_dir: Path, today: date) -> list[OpenAction]:
    return open_actions(all_notes(notes_dir), today)


def history_page(publisher: Publisher, drills: Sequence[DrillSummary], policy: CreditPolicy,
                 now: datetime) -> tuple[dict[str, object], bytes]:
    figures = history(publisher.reviews(), drills, policy.revenue_per_hour, policy.currency, now)
    return figures, render_history(figures)



def lab_world(inventory: "Inventory", publisher: Publisher, journal_dir: Path, reports_dir: Path,
              now: datetime) -> ReviewWorld:
    """The sources in the DR region and on this machine (adapters imported here, when used).

    The downtime intake is read when the inventory declares it and its package is installed.
    """
    from outage.adapters.dr_bucket import DrBucket
    from outage.adapters.drill_reports import DrillProbe
    from outage.adapters.journals import Journals
    from outage.adapters.s3_series import S3AvailabilitySeries
    from outage.adapters.status_incidents import StatusLogIncidents

    return ReviewWorld(incidents=StatusLogIncidents(inventory), journals=Journals(journal_dir, inventory),
                       intake=_intake(inventory, now), probe=DrillProbe(reports_dir), publisher=publisher,
                       series=S3AvailabilitySeries(DrBucket(inventory)))


def store_copy(inventory: "Inventory", directory: Path) -> list[str]:
    """A copy of the review's files in the DR-region bucket (`<prefix>outage/reviews/<id>/`)."""
    from outage.adapters.dr_bucket import DrBucket

    bucket = DrBucket(inventory)
    stored = []
    for path in sorted(p for p in directory.iterdir() if p.is_file()):
        key = f"reviews/{directory.name}/{path.name}"
        bucket.put(key, path.read_bytes(), create_only=True)
        stored.append(bucket.where(key))
    return stored


def _intake(inventory: "Inventory", now: datetime) -> IntakeSource:
    import importlib.util

    if inventory.intake is None or importlib.util.find_spec("outage.adapters.dynamo_intake") is None:
        return NoIntake()
    from outage.adapters.intake_records import IntakeRecords

    return IntakeRecords(inventory, now)
