"""Composition: append an update to the DR-region log, publish the page, reach every subscriber.

Order matters for customers: the log first (the record), then the page (what most read), then
SNS and the webhooks in parallel; every delivery, failed or not, is written to the delivery log.
A drill writes to the drill-marked location and sends nothing to customers: its deliveries are
recorded as `withheld`, so the report shows what would have been sent.
"""

import json
import logging
import secrets
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from outage.adapters.s3_status import DELIVERIES, LOG, S3StatusStore, status_config
from outage.adapters.sns_subscribers import SnsSubscribers
from outage.adapters.webhook_sender import WebhookSender
from outage.checklist.service import confirmations
from outage.status.automatic import TITLES, automatic_limitation, first_notice, service_back
from outage.status.cadence import Due, due, next_update_at
from outage.status.messages import DataLoss, Facts, draft
from outage.status.model import (
    Draft,
    Incident,
    OverdueNote,
    Update,
    fold,
    new_incident_id,
    open_incidents,
    parse_entry,
    transition_problem,
)
from outage.status.record import communication_record
from outage.status.render import site_files
from outage.status.statuspage import iso
from outage.status.subscribers import Delivery, safe_target, sns_text, webhook_body
from policies.checklist import load_checklist, progress
from policies.errors import ConfigError, DrError
from policies.sla import Tier
from recovery.adapters.clock import SystemClock
from recovery.adapters.secrets import resolve_secret
from recovery.inventory import Inventory
from recovery.ports import Clock, Notifier

log = logging.getLogger(__name__)

APPEND_TRIES = 5


@dataclass(frozen=True)
class Published:
    """One update as it went out: where, when, and to whom."""

    update: Update
    site: list[str]
    published_at: datetime
    deliveries: list[Delivery] = field(default_factory=list)
    drill: bool = False

    def to_dict(self) -> dict[str, object]:
        return {"update": self.update.model_dump(mode="json"), "site": self.site, "drill": self.drill,
                "published_at": iso(self.published_at), "deliveries": [d.to_dict() for d in self.deliveries]}


class StatusService:
    """The customer status log of one inventory; `drill` keeps everything off the public page."""

    def __init__(self, inventory: Inventory, cadence: timedelta, *, drill: bool = False, clock: Clock | None = None,
                 language: str | None = None, sender: WebhookSender | None = None,
                 resolve: Callable[..., str] = resolve_secret) -> None:
        self.inventory, self.page = inventory, status_config(inventory)
        self.cadence, self.drill = cadence, drill
        self.clock = clock or SystemClock()
        self.language = language or self.page.language
        self.store = S3StatusStore(inventory, drill=drill)
        self._sender = sender or WebhookSender()
        self._resolve = resolve

    def incidents(self) -> list[Incident]:
        entries = []
        for data in self.store.read_all(LOG):
            try:
                entries.append(parse_entry(data))
            except ValueError as err:
                log.warning("status log: skipping an object that is not an entry (%s)", type(err).__name__)
        return fold(entries)

    def find(self, incident_id: str | None) -> Incident | None:
        """The named incident, else the one open incident (ConfigError when several are open)."""
        incidents = self.incidents()
        if incident_id:
            for incident in incidents:
                if incident.id == incident_id:
                    return incident
            raise ConfigError(f"--incident {incident_id}: no such incident in the status log")
        current = open_incidents(incidents)
        if len(current) > 1:
            ids = ", ".join(i.id for i in current)
            raise ConfigError(f"several incidents are open ({ids}); expected --incident ID")
        return current[0] if current else None

    def open(self, title: str, ask: Draft) -> Published:
        incident_id = new_incident_id(self.clock.now(), secrets.token_hex(2))
        return self._append(None, ask, incident_id=incident_id, title=title)

    def update(self, incident_id: str | None, ask: Draft) -> Published:
        incident = self.find(incident_id)
        problem = transition_problem(incident, ask.state)
        if problem or incident is None:
            raise ConfigError(problem or "no incident")
        return self._append(incident, ask, incident_id=incident.id, title=incident.title)

    def _components(self, given: tuple[str, ...], incident: Incident | None) -> tuple[str, ...]:
        known = [c.id for c in self.page.components]
        for name in given:
            if name not in known:
                raise ConfigError(f"--component {name}: expected one of {', '.join(known)} "
                                  "(inventory status.components)")
        return given or (incident.components if incident else tuple(known))

    def _text(self, ask: Draft, components: tuple[str, ...], at: datetime, started: datetime | None,
              promised: datetime | None) -> str:
        if ask.verbatim:
            if not ask.note or not ask.note.strip():
                raise ConfigError("--verbatim: expected --message with the text to publish")
            return ask.note.strip()
        names = {c.id: c.names.get(self.language, c.id) for c in self.page.components}
        facts = Facts(ask.state, at, tuple(names[c] for c in components), started_at=started,
                      service_back_at=ask.service_back_at, next_update_at=promised, fix_time=ask.fix_time,
                      note=ask.note, data_loss=ask.data_loss)
        return draft(facts, self.language)

    def _append(self, incident: Incident | None, ask: Draft, *, incident_id: str, title: str) -> Published:
        components = self._components(ask.components, incident)
        impact = ask.impact or (incident.impact if incident else "major")
        started = ask.started_at or (incident.first.started_at if incident else None)  # measured, or none
        for _ in range(APPEND_TRIES):
            now = self.clock.now()
            at = now.replace(microsecond=now.microsecond // 1000 * 1000)  # ms: log, page, feed and JSON agree
            promised = None if ask.state == "resolved" else next_update_at(at, self.cadence)
            update = Update(incident=incident_id, seq=incident.next_seq if incident else 1, title=title,
                            state=ask.state, impact=impact, components=components, at=at, next_update_at=promised,
                            message=self._text(ask, components, at, started, promised), language=self.language,
                            author=ask.author, source=ask.source, started_at=started)
            if self.store.create(f"{LOG}{incident_id}/{update.seq:06d}.json", update.model_dump_json().encode()):
                return self._announce(update)
            incident = self.find(incident_id)  # another writer took this number: read again, take the next
        raise DrError(f"incident {incident_id}: could not append an update after {APPEND_TRIES} tries (contention)")

    def publish(self) -> tuple[list[str], datetime]:
        """Render and upload page, feed and JSON from the whole log, as of now."""
        now = self.clock.now()
        return self.store.put_site(site_files(self.page, self.incidents(), now, drill=self.drill)), now

    def _announce(self, update: Update) -> Published:
        site, published_at = self.publish()
        incident = self.find(update.incident)
        deliveries = self._deliver(incident, update) if incident else []
        for number, delivery in enumerate(deliveries, start=1):
            key = f"{DELIVERIES}{update.incident}/{update.seq:06d}-{number:02d}-{delivery.channel}.json"
            self.store.create(key, json.dumps(delivery.to_dict(), sort_keys=True).encode())
        return Published(update, site, published_at, deliveries, self.drill)

    def _deliver(self, incident: Incident, update: Update) -> list[Delivery]:
        jobs: list[Callable[[], Delivery]] = []
        if self.page.topic_arn:
            jobs.append(lambda: self._sns(update))
        for hook in self.page.webhooks:
            jobs.append(lambda hook=hook: self._webhook(incident, update, hook.url, hook.secret))  # type: ignore[misc]
        with ThreadPoolExecutor(max_workers=max(1, len(jobs))) as pool:
            return list(pool.map(lambda job: job(), jobs))

    def _stamp(self) -> str:
        return iso(self.clock.now()) or ""

    def _sns(self, update: Update) -> Delivery:
        topic = str(self.page.topic_arn)
        if self.drill:
            return Delivery(update.incident, update.seq, "sns", topic, "withheld", 0, self._stamp(), "drill")
        subject, message = sns_text(self.page, update)
        error = SnsSubscribers(self.inventory, topic).publish(subject, message)
        return Delivery(update.incident, update.seq, "sns", topic, "failed" if error else "delivered", 1,
                        self._stamp(), error or "")

    def _webhook(self, incident: Incident, update: Update, url: str, secret_ref: object) -> Delivery:
        if self.drill:
            return Delivery(update.incident, update.seq, "webhook", safe_target(url), "withheld", 0, self._stamp(),
                            "drill")
        try:
            secret = self._resolve(secret_ref, self.inventory)
        except DrError as err:
            return Delivery(update.incident, update.seq, "webhook", safe_target(url), "failed", 0, self._stamp(),
                            str(err))
        return self._sender.send(url, secret, webhook_body(self.page, incident, update), incident=update.incident,
                                 seq=update.seq)

    def deliveries(self, incident_id: str | None = None) -> list[Delivery]:
        found = []
        for data in self.store.read_all(DELIVERIES + (f"{incident_id}/" if incident_id else "")):
            found.append(Delivery(**json.loads(data)))
        return found

    def due(self) -> list[Due]:
        """The cadence for each open incident; an overdue promise is recorded in the log, once."""
        now, verdicts = self.clock.now(), []
        for incident in open_incidents(self.incidents()):
            verdict = due(incident, now, self.cadence)
            if verdict.overdue_since and not verdict.already_noted:
                note = OverdueNote(incident=incident.id, seq=incident.next_seq, promised_at=verdict.overdue_since,
                                   noticed_at=now)
                self.store.create(f"{LOG}{incident.id}/{note.seq:06d}.json", note.model_dump_json().encode())
            verdicts.append(verdict)
        return verdicts


class AutomaticNotices:
    """The port the CLI hands to the watch and the failover: customers told at once, never blocking them.

    Each notice is published on a thread of its own; a failure is logged and kept in `errors`,
    never raised into recovery. With `drill`, everything goes to the drill-marked location.
    """

    def __init__(self, inventory: Inventory, tier_name: str, tier: Tier, *, drill: bool = False) -> None:
        self.limitation = automatic_limitation(inventory, tier_name, tier)
        self.drill = drill
        self.published: list[Published] = []
        self.errors: list[str] = []
        self.detected_at: datetime | None = None
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        # Clients and templates made now, so an outage waits for neither.
        self.service = None if self.limitation else StatusService(inventory, tier.status_notice_every, drill=drill)
        if self.service is not None:
            self.service.store.warm()

    def _run(self, what: str, ask: Callable[["StatusService"], Published | None]) -> None:
        def work() -> None:
            if self.service is None:
                return
            try:
                with self._lock:  # one notice at a time: "monitoring" never overtakes "investigating"
                    done = ask(self.service)
            except DrError as err:
                log.warning("customer notice (%s) not published: %s", what, err)
                self.errors.append(f"{what}: {err}")
                return
            if done is not None:
                self.published.append(done)

        if self.limitation:
            log.info("no automatic customer notice: %s", self.limitation)
            return
        thread = threading.Thread(target=work, name=f"crmdr-notice-{what}")
        self._threads.append(thread)
        thread.start()

    def outage_declared(self, first_failure: datetime, declared: datetime) -> None:
        """The watch declared an outage: "investigating", unless an incident is already open."""
        self.detected_at = declared

        def ask(svc: StatusService) -> Published | None:
            if svc.find(None) is not None:
                log.info("an incident is already open: the watch adds no first notice")
                return None
            lang = svc.language
            return svc.open(TITLES.get(lang, TITLES["en"]), first_notice(first_failure))

        self._run("investigating", ask)

    def service_back(self, back_at: datetime, data_loss: DataLoss | None = None) -> None:
        """The failover's validation passed: "monitoring", saying since when service is back."""
        def ask(svc: StatusService) -> Published | None:
            return svc.update(None, service_back(back_at, data_loss)) if svc.find(None) else None

        self._run("monitoring", ask)

    def wait(self, timeout: float = 30) -> None:
        for thread in self._threads:
            thread.join(timeout)

    def record(self, journal_dir: Path | None = None) -> dict[str, Any]:
        """The communication record of the incident these notices opened (or joined); with `journal_dir`,
        the people's checklist too (targets from detection, confirmations from its journal)."""
        if self.service is None:
            return {"drill": self.drill, "automatic": False, "reason": self.limitation}
        incident = next((p.update.incident for p in self.published), None)
        found = self.service.find(incident) if incident else None
        deliveries = self.service.deliveries(found.id) if found else []
        now = self.service.clock.now()
        found_record = communication_record(found, deliveries, self.detected_at, now, drill=self.drill)
        if journal_dir is not None and found is not None:
            done = confirmations(self.service.inventory, found.id, journal_dir)
            steps = progress(load_checklist(), done, self.detected_at, now)
            found_record["checklist"] = [s.to_dict(self.service.language, self.detected_at) for s in steps]
        return {"automatic": True, "errors": self.errors, **found_record}


class CadenceReminder:
    """Tells operators (their SNS topic) that a customer update is due soon or overdue, once per promise.

    A running watch or runbook calls `tick()` as often as it likes; the log is read at most every
    `every` seconds. The overdue promise itself is recorded in the log by `StatusService.due`.
    """

    def __init__(self, svc: StatusService, notifier: Notifier, *, every: float = 30.0) -> None:
        self._svc, self._notifier, self._every = svc, notifier, every
        self._last: float | None = None
        self._told: set[tuple[str, str]] = set()
        self.sent: list[str] = []

    def tick(self) -> list[str]:
        """The reminders sent by this call (none when it is not time to look)."""
        now = self._svc.clock.monotonic()
        if self._last is not None and now - self._last < self._every:
            return []
        self._last = now
        try:
            verdicts = self._svc.due()
        except DrError as err:
            log.warning("status cadence not checked: %s", err)
            return []
        sent = []
        for verdict in verdicts:
            if not verdict.remind or verdict.due_at is None:
                continue
            kind = "overdue" if verdict.overdue else "due"
            if (verdict.incident, f"{kind}{verdict.due_at}") in self._told:
                continue
            self._told.add((verdict.incident, f"{kind}{verdict.due_at}"))
            self._notifier.publish(f"{'[DRILL] ' if self._svc.drill else ''}customer update {kind}: "
                                   f"incident {verdict.incident}", f"{verdict.reason()}\ncrmdr status update "
                                   f"--incident {verdict.incident} --state ... --message ...")
            sent.append(verdict.reason())
        self.sent += sent
        return sent
