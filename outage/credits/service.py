"""Composition of `crmdr credits`: read the series and the issued records, decide, record, notify.

Inputs are checked first (month, policy, customers): a bad one is a ConfigError and nothing is
read from or written to AWS. Issuing writes each record create-only before the notice goes
out, so a second run (or a racing one) issues nothing new; a notice that failed to go out is
sent by the next run (deliveries are recorded apart from issues).
"""

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from outage.credits.customers import Customer, parse_customers
from outage.credits.issuing import Decision, decide
from outage.credits.ledger import build_ledger
from outage.credits.notices import Notice, draft_notice
from outage.credits.ports import AvailabilitySeries, CreditRecords, CustomerNotifier, JournalSource, OutageSpans
from outage.credits.render import iso, ledger_dict, render_csv, render_html
from outage.credits.series import Month, Span
from policies.credits import CreditPolicy
from policies.errors import ConfigError, DrError

if TYPE_CHECKING:
    from outage.credits.recording import AvailabilityRecording
    from outage.credits.spans import IncidentLike
    from recovery.inventory import Inventory

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CreditsWorld:
    """The ports one run uses."""

    series: AvailabilitySeries
    records: CreditRecords
    notifier: CustomerNotifier
    spans: OutageSpans


@dataclass
class CreditsRun:
    document: dict[str, Any]
    files: dict[str, bytes]
    saved: list[str] = field(default_factory=list)
    deliveries: list[str] = field(default_factory=list)
    undelivered: list[str] = field(default_factory=list)


class IncidentSourceLike(Protocol):
    def incidents(self) -> "Sequence[IncidentLike]": ...


class NoSpans:
    """OutageSpans when no declared outage is known (the series alone decides)."""

    def spans(self, month: Month) -> list[Span]:
        return []


def customers_from_csv(path: Path, policy: CreditPolicy) -> list[Customer]:
    """Read a customers CSV; every problem is a ConfigError naming the file, line and column."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(f"{path}: customers file not found") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path}: cannot read the customers file ({err})") from None
    return parse_customers(text, source=str(path), policy=policy)


def _issue(decisions: list[Decision], world: CreditsWorld) -> list[Decision]:
    """Record each new credit create-only; one a racing run recorded first becomes issued-before."""
    done = []
    for decision in decisions:
        lost = decision.status == "issue" and decision.record and not world.records.record(decision.record)
        done.append(Decision(decision.line, "issued-before", "recorded by another run at the same time",
                             decision.record) if lost else decision)
    return done


def _notify(decisions: list[Decision], month: Month, spans: Sequence[Span], now: datetime,
            world: CreditsWorld, run: CreditsRun) -> None:
    """A notice for every issued credit not yet delivered (this run's, or a failed earlier one)."""
    delivered = world.records.notified(month)
    for decision in decisions:
        if decision.status not in ("issue", "issued-before") or decision.line.customer.id in delivered:
            continue
        notice: Notice = draft_notice(decision.line, month, spans, now)
        try:
            where = world.notifier.send(month, notice)
            world.records.mark_notified(month, notice.customer_id, where)
            run.deliveries.append(f"{notice.customer_id}: {where}")
        except DrError as err:
            log.warning("credit notice for customer %s not delivered: %s", notice.customer_id, err)
            run.undelivered.append(f"{notice.customer_id}: {err}")


def run_credits(policy: CreditPolicy, customers: Sequence[Customer], month: Month, world: CreditsWorld, *,
                now: datetime, run_id: str, issue: bool = True) -> CreditsRun:
    """The month's ledger; with `issue`, credits recorded and notices sent once per customer."""
    spans = world.spans.spans(month)
    ledger = build_ledger(policy, customers, world.series.read(month), spans, month, now)
    decisions = decide(ledger, world.records.issued(month), now, run_id)
    if issue:
        decisions = _issue(decisions, world)
    elif any(d.status == "issue" for d in decisions):
        decisions = [Decision(d.line, "owed", "dry run: not issued", d.record) if d.status == "issue" else d
                     for d in decisions]
    document = ledger_dict(ledger, decisions, policy)
    document["declared_outages"] = [{"source": s.source, "start": iso(s.start), "end": iso(s.end),
                                     "components": sorted(s.components)} for s in spans]
    document["sources_missing"] = list(getattr(world.spans, "missing", []))
    run = CreditsRun(document=document, files={})
    if issue:
        _notify(decisions, month, spans, now, world, run)
    document["notices_sent"] = len(run.deliveries)
    document["notices_failed"] = run.undelivered
    run.files = {"ledger.json": _json_bytes(document), "ledger.csv": render_csv(document),
                 "ledger.html": render_html(document)}
    if issue:
        run.saved = world.records.save_ledger(month, run.files)
    return run


def _json_bytes(document: dict[str, Any]) -> bytes:
    return (json.dumps(document, indent=2, sort_keys=True) + "\n").encode()


def s3_world(inventory: "Inventory", run_id: str, spans: OutageSpans | None = None) -> CreditsWorld:
    """The DR-region bucket behind every port (adapters imported here, not at module import)."""
    from outage.adapters.dr_bucket import DrBucket
    from outage.adapters.s3_credits import S3CreditRecords
    from outage.adapters.s3_outbox import S3Outbox
    from outage.adapters.s3_series import S3AvailabilitySeries

    bucket = DrBucket(inventory)
    return CreditsWorld(series=S3AvailabilitySeries(bucket), records=S3CreditRecords(bucket, run_id),
                        notifier=S3Outbox(bucket), spans=spans or NoSpans())


def availability_recording(inventory: "Inventory", writer: str | None = None,
                           component: str = "database") -> "AvailabilityRecording":
    """What `crmdr watch` calls after each probe: the series in the DR bucket, written in the background.

    The writer names this process (host, pid, start), so two watches or a restarted one never
    overwrite each other's objects.
    """
    import os
    import socket

    from outage.adapters.dr_bucket import DrBucket
    from outage.adapters.s3_series import S3AvailabilitySeries
    from outage.credits.recording import AvailabilityRecording

    name = writer or f"watch-{socket.gethostname()}-{os.getpid()}-{datetime.now(UTC):%Y%m%dT%H%M%SZ}"
    return AvailabilityRecording(S3AvailabilitySeries(DrBucket(inventory), writer=name), component)


class JournalSpans:
    """OutageSpans from the watch and failover journals (local directory and the DR bucket's mirror)."""

    def __init__(self, journals: JournalSource, components: frozenset[str]) -> None:
        self._journals = journals
        self._components = components

    def spans(self, month: Month) -> list[Span]:
        from outage.credits.spans import outage_spans

        return [s for s in outage_spans(self._journals.runs(), self._components)
                if s.end > month.start and s.start < month.end]


class IncidentSpans:
    """OutageSpans from the status log's major and critical incidents (drills excluded)."""

    def __init__(self, incidents: "IncidentSourceLike", components: frozenset[str], now: datetime) -> None:
        self._incidents = incidents
        self._components = components
        self._now = now

    def spans(self, month: Month) -> list[Span]:
        from outage.credits.spans import incident_spans

        return [s for s in incident_spans(self._incidents.incidents(), self._components, self._now)
                if s.end > month.start and s.start < month.end]


class AllSpans:
    """Several OutageSpans as one; a source that cannot be read is logged and left out (named in `missing`)."""

    def __init__(self, *sources: OutageSpans) -> None:
        self._sources = sources
        self.missing: list[str] = []

    def spans(self, month: Month) -> list[Span]:
        found: list[Span] = []
        for source in self._sources:
            try:
                found += source.spans(month)
            except DrError as err:
                log.warning("declared outages not read from %s: %s", type(source).__name__, err)
                self.missing.append(f"{type(source).__name__}: {err}")
        return found


def declared_outages(inventory: "Inventory", journal_dir: Path, policy: CreditPolicy, now: datetime) -> AllSpans:
    """The journals' outages, and the status log's when the inventory declares a status page."""
    import importlib.util

    from outage.adapters.journals import Journals

    components = frozenset(policy.components)
    sources: list[OutageSpans] = [JournalSpans(Journals(journal_dir, inventory), components)]
    if inventory.status is not None and importlib.util.find_spec("outage.adapters.s3_status") is not None:
        from outage.adapters.status_incidents import StatusLogIncidents

        sources.append(IncidentSpans(StatusLogIncidents(inventory), components, now))
    return AllSpans(*sources)
