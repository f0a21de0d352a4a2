"""Assemble a drill report from what the drill produced. Pure: every time is a parameter."""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from drills.judge import Objective, verdict
from drills.report.model import (
    Action,
    ChainLink,
    Check,
    Drill,
    DrillReport,
    Evidence,
    ObjectiveResult,
    Person,
    Phase,
    Scope,
    Signing,
    Toolkit,
)
from policies.durations import format_duration
from policies.sla import DrillType, Tier
from recovery.inventory import Inventory

CONTROLS: dict[str, list[str]] = {
    "backup-verify": ["SOC 2 A1.2", "ISO 27001 A.8.13", "DORA Art. 12"],
    "restore-test": ["SOC 2 A1.3", "ISO 27001 A.8.13", "ISO 22301 8.5", "DORA Art. 12", "NIST SP 800-84"],
    "failover": ["SOC 2 A1.3", "ISO 22301 8.5", "ISO 27001 A.5.30", "DORA Art. 11", "NIST SP 800-84"],
}
CORRECTIVE_ACTION_DAYS = 14


@dataclass(frozen=True)
class DrillOutcome:
    """What one drill produced, before it is judged into a report."""

    drill_type: DrillType
    objectives: list[Objective]
    measured: dict[str, object]
    timeline: list[Phase]
    integrity_checks: list[Check]
    isolation: str
    cleanup: list[Check]
    scenario: str | None = None
    deviations: list[str] = field(default_factory=list)
    evidence: list[Evidence] = field(default_factory=list)
    aborted: str | None = None
    """Where a signal stopped the drill and what the rollback did; such a drill never passes."""
    signal: int | None = None


@dataclass(frozen=True)
class Provenance:
    """Who ran the drill, with which toolkit, under which policy, signed by which key."""

    report_id: str
    toolkit: Toolkit
    operator: Person
    policy: str
    tier_name: str
    chain: ChainLink
    signing: Signing
    approvals: tuple[Person, ...] = ()


def scope_of(inventory: Inventory, drill_type: DrillType) -> Scope:
    db = inventory.database
    return Scope(
        stack=inventory.stack, environment=inventory.environment,
        regions={"primary": inventory.regions.primary, "dr": inventory.regions.dr},
        database_engine=db.engine, nodes=[f"{node.name} ({node.region})" for node in db.nodes()],
        dns_name=inventory.dns.record_name, controls=CONTROLS[drill_type],
    )


def tier_summary(tier: Tier, drill_type: DrillType) -> dict[str, str]:
    return {"rto": format_duration(tier.rto), "rpo": format_duration(tier.rpo),
            "max_replication_lag": format_duration(tier.max_replication_lag),
            "synchronous_replication": str(tier.synchronous_replication).lower(),
            "cadence": format_duration(tier.drills[drill_type])}


def build_report(outcome: DrillOutcome, inventory: Inventory, tier: Tier, provenance: Provenance,
                 started_at: datetime, finished_at: datetime) -> DrillReport:
    """Judge and assemble; a failed objective or check becomes a deviation with an owned action."""
    passed, failures = verdict(outcome.objectives)
    failures += [f"{c.name}: {c.detail}" for c in outcome.integrity_checks if not c.passed]
    failures += [f"cleanup {c.name}: {c.detail}" for c in outcome.cleanup if not c.passed]
    deviations = [*([f"ABORTED: {outcome.aborted}"] if outcome.aborted else []), *failures, *outcome.deviations]
    due = finished_at + timedelta(days=CORRECTIVE_ACTION_DAYS)
    actions = [Action(action=f"Find the cause and fix: {text}", owner=provenance.operator.name, due=due)
               for text in deviations]
    return DrillReport(
        report_id=provenance.report_id, started_at=started_at, finished_at=finished_at,
        toolkit=provenance.toolkit, scope=scope_of(inventory, outcome.drill_type),
        drill=Drill(type=outcome.drill_type, scenario=outcome.scenario, tier=provenance.tier_name,
                    policy=provenance.policy, objectives_of_tier=tier_summary(tier, outcome.drill_type)),
        passed=passed and not failures and outcome.aborted is None, aborted=outcome.aborted,
        objectives=[ObjectiveResult(**o.as_dict()) for o in outcome.objectives],
        measured=dict(outcome.measured), timeline=outcome.timeline,
        integrity_checks=outcome.integrity_checks, isolation=outcome.isolation,
        operator=provenance.operator, approvals=list(provenance.approvals),
        deviations=deviations, corrective_actions=actions, cleanup=outcome.cleanup,
        evidence=outcome.evidence, next_drill_due=finished_at + tier.drills[outcome.drill_type],
        chain=provenance.chain, signing=provenance.signing,
    )


def report_id(finished_at: datetime, drill_type: str, nonce: str) -> str:
    """Sortable and unique: 20260101T120000Z-failover-1a2b3c."""
    return f"{finished_at:%Y%m%dT%H%M%SZ}-{drill_type}-{nonce}"
