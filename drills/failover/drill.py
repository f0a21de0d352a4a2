"""The failover game day: probe, crash the primary, run the failover runbook, measure, fail back.

RTO and RPO come from the write probe's ledger (what a client felt), phases from the runbook's
journal. The drill accepts data loss on asynchronous replication on purpose: measuring that
loss is the point; synchronous tiers are judged on zero lost acknowledged writes.
"""

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from drills.context import DrillContext
from drills.failover.detection import detected, start_detection
from drills.failover.intake import IntakeProbe, replay_and_judge
from drills.failover.measure import Disruption, Measurement, Write, measure
from drills.failover.probe import ProbeSettings, WriteProbe, committed_ids
from drills.failover.scenarios import SCENARIOS, Scenario
from drills.judge import Objective, check, failover_objectives, first_notice_objective
from drills.report.build import DrillOutcome
from drills.report.model import Check, Evidence, Phase
from drills.report.store import write_evidence
from drills.timeline import journal_events, phase_at, runbook_phases
from outage.status.automatic import service_back_time
from outage.status.messages import DataLoss
from outage.status.service import AutomaticNotices
from policies.errors import DrError
from recovery.adapters.route53_dns import Route53Dns
from recovery.runbooks.failover import run_failover
from recovery.runbooks.run import Options
from recovery.runbooks.switchover import run_failback

log = logging.getLogger(__name__)

STEADY_WRITES = 20
WAIT_SECONDS = 60.0
PROBE_RATE = 100.0


def _wait(condition: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def _acked(ledger: tuple[Write, ...], after: float = 0.0) -> int:
    return sum(1 for w in ledger if w.outcome == "acknowledged" and w.sent_mono >= after)


def _ledger_csv(ledger: tuple[Write, ...], origin: float) -> bytes:
    rows = ["id,outcome,sent_unix,offset_s,latency_ms,address,error"]
    rows += [f"{w.id},{w.outcome},{w.sent_wall:.6f},{w.sent_mono - origin:.6f},"
             f"{(w.done_mono - w.sent_mono) * 1000:.3f},{w.address or ''},\"{(w.error or '').replace(chr(34), '')}\""
             for w in ledger]
    return ("\n".join(rows) + "\n").encode()


def _journal_evidence(context: DrillContext, name: str, path: str | None) -> tuple[list[Evidence], str]:
    if not path or not Path(path).exists():
        return [], ""
    text = Path(path).read_text()
    return [write_evidence(context.report_dir, name, text.encode())], text


def _failback(context: DrillContext, options: Options) -> tuple[list[Check], list[Evidence], str]:
    """Return the primary role to the inventory's primary; each result is a cleanup check."""
    inventory = context.inventory
    try:
        result = run_failback(inventory, options)
    except DrError as err:
        return [Check(name="fail back", passed=False, detail=f"{err} (manual failback needed)")], [], ""
    evidence, text = _journal_evidence(context, "failback-journal.jsonl", result.journal)
    address = Route53Dns(inventory).resolve()
    primary = inventory.database.primary
    home = getattr(primary, "host", "")
    checks = [Check(name="fail back", passed=True, detail=result.message),
              Check(name="DNS name back on the primary", passed=address == home,
                    detail=f"{inventory.dns.record_name} resolves to {address}")]
    return checks, evidence, text


def _undo(context: DrillContext, scenario: Scenario) -> Check:
    """Bring the disrupted host back (the failover's isolation stays until failback)."""
    try:
        return Check(name=f"undo {scenario.name}", passed=True, detail=scenario.restore(context))
    except DrError as err:
        return Check(name=f"undo {scenario.name}", passed=False, detail=f"{err} (manual cleanup needed)")


def _clients_follow(ledger: tuple[Write, ...], after: float, failed_over: datetime, origin: datetime,
                    ttl: int) -> Phase:
    """From the failover's end to the first write a client got through: its resolver kept the old
    answer up to the record's TTL (part of the RTO customers feel, not of the runbook)."""
    first = min(w.sent_wall for w in ledger if w.outcome == "acknowledged" and w.sent_mono >= after)
    return phase_at("clients follow the name", failed_over, max(failed_over, datetime.fromtimestamp(first, UTC)),
                    origin, detail=f"the probe resolves through DNS; an answer is kept up to its TTL ({ttl}s)")


def run(context: DrillContext) -> DrillOutcome:
    """The failover drill (scenarios in drills/failover/scenarios.py)."""
    inventory = context.inventory
    scenario = SCENARIOS[context.scenario or "crash"]
    options = Options(drill=True, accept_data_loss=not inventory.database.synchronous,
                      journal_dir=context.report_dir.parent / ".journals")
    probe = WriteProbe(inventory, ProbeSettings(rate=PROBE_RATE, writer="crmdr-drill"))
    customers = AutomaticNotices(inventory, context.tier_name, context.tier, drill=True)  # never the public page
    back: datetime | None = None
    origin_wall, origin = datetime.now(UTC), time.monotonic()
    probe.start()
    intake = IntakeProbe(inventory, probe.run_writer) if inventory.intake else None
    failure: str | None = None
    failover_journal: str | None = None
    disruption: Disruption | None = None
    timeline: list[Phase] = []
    try:
        if not _wait(lambda: _acked(probe.ledger) >= STEADY_WRITES, WAIT_SECONDS):
            raise DrError(f"steady state not reached: fewer than {STEADY_WRITES} writes acknowledged")
        timeline.append(phase_at("steady state (probe)", origin_wall, datetime.now(UTC), origin_wall))
        watcher = start_detection(context)
        disruption = scenario.disrupt(context)
        if intake:  # customers keep submitting while the primary is down (its own thread: RTO unaffected)
            intake.start()
        disrupted_at = datetime.fromtimestamp(disruption.started_wall, UTC)
        timeline.append(phase_at(f"disrupt: {scenario.name} primary", disrupted_at, datetime.now(UTC), origin_wall))
        failover_journal, back = _fail_over(context, detected(context, watcher, options), customers, disrupted_at)
        failed_over, effective = datetime.now(UTC), disruption.effective_mono
        if _wait(lambda: _acked(probe.ledger, effective) > 0, WAIT_SECONDS):
            timeline.append(_clients_follow(probe.ledger, effective, failed_over, origin_wall, inventory.dns.ttl))
    except DrError as err:
        failure = str(err)
    finally:
        ledger = probe.stop()
    if disruption is None:
        now = time.monotonic()
        disruption = Disruption(started_mono=now, started_wall=time.time(), effective_mono=now)
    evidence = [write_evidence(context.report_dir, "ledger.csv", _ledger_csv(ledger, origin))]
    found_evidence, journal = _journal_evidence(context, "failover-journal.jsonl", failover_journal)
    evidence += found_evidence
    timeline += runbook_phases(journal_events(journal), origin_wall, prefix="failover: ")
    measurement = _measure(context, probe.run_writer, ledger, disruption)
    communication = _communicate(customers, back, measurement, options)
    cleanup, back_evidence, back_phases = _clean_up(context, scenario, options, failure, origin_wall)
    evidence += back_evidence
    timeline += back_phases
    intake_objectives, measured, intake_checks = _intake_results(intake, context)
    objectives = [*failover_objectives(measurement, context.tier),
                  check("Failover runbook", failure, "completed"), *first_notice_objective(communication),
                  *intake_objectives]
    return DrillOutcome(
        drill_type="failover", scenario=context.scenario, objectives=objectives,
        measured={**measurement.as_dict(), "probe_rate_per_second": PROBE_RATE, "probe_writer": probe.run_writer,
                  "synchronous_replication": inventory.database.synchronous,
                  "customer_communication": communication, **measured},
        timeline=sorted(timeline, key=lambda p: p.offset_seconds),
        integrity_checks=[*_integrity(measurement), *intake_checks],
        isolation=(f"{inventory.environment} stack '{inventory.stack}': {scenario.what} on purpose; "
                   f"clients of {inventory.dns.record_name} saw {measurement.failed} failed and "
                   f"{measurement.unknown} unknown writes during the drill"
                   + ("" if inventory.database.synchronous else
                      "; failover ran with accept-data-loss (asynchronous replication) to measure the loss")),
        cleanup=cleanup, evidence=evidence,
    )


def _clean_up(context: DrillContext, scenario: Scenario, options: Options, failure: str | None,
              origin_wall: datetime) -> tuple[list[Check], list[Evidence], list[Phase]]:
    """Undo the disruption, then fail back when the failover completed; each result is a cleanup check."""
    cleanup = [_undo(context, scenario)]
    if failure is not None:
        cleanup.append(Check(name="fail back", passed=False, detail="skipped: the failover did not complete"))
        return cleanup, [], []
    back_checks, back_evidence, back_journal = _failback(context, options)
    phases = runbook_phases(journal_events(back_journal), origin_wall, prefix="failback: ")
    return cleanup + back_checks, back_evidence, phases


def _fail_over(context: DrillContext, given: Options, customers: AutomaticNotices,
               disrupted_at: datetime) -> tuple[str | None, datetime | None]:
    """The drill-marked first notice as the outage is declared (the watch's, else the disruption), then
    the failover; its journal and when its validation passed."""
    found = given.detection
    customers.outage_declared(found.first_failure if found else disrupted_at,
                              found.declared if found else datetime.now(UTC))
    result = run_failover(context.inventory, given)
    return result.journal, service_back_time(result.phases)


def _communicate(customers: AutomaticNotices, back: datetime | None, measurement: Measurement,
                 options: Options) -> dict[str, Any]:
    """"monitoring" once validation passed (with the probe's count of lost acknowledged writes); the record."""
    if back is not None:
        customers.service_back(back, DataLoss(len(measurement.lost_ids), f"drill write probe, "
                                              f"{measurement.acknowledged} acknowledged writes checked"))
    customers.wait()
    return customers.record(journal_dir=options.journal_dir)


def _intake_results(intake: IntakeProbe | None, context: DrillContext) -> tuple[
        list[Objective], dict[str, object], list[Check]]:
    """After failback: the requests taken during the outage replayed into the recovered CRM."""
    if intake is None:
        return [], {}, []
    objectives, measured, replayed = replay_and_judge(intake, context.report_dir.parent / ".intake-outbox")
    return objectives, measured, [replayed]


def _integrity(measurement: Measurement) -> list[Check]:
    return [Check(name="acknowledged writes present after recovery", passed=not measurement.lost_ids,
                  detail=f"{len(measurement.lost_ids)} lost of {measurement.acknowledged}"),
            Check(name="no failed write was committed", passed=not measurement.failed_but_committed,
                  detail=f"{len(measurement.failed_but_committed)} found")]


def _measure(context: DrillContext, writer: str, ledger: tuple[Write, ...], disruption: Disruption) -> Measurement:
    try:
        found = committed_ids(context.inventory, writer)
    except DrError as err:
        log.warning("cannot read the probe rows back: %s", err)
        found = frozenset()
    return measure(ledger, found, disruption)
