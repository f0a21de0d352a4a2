"""The incident review: one typed document; canonical JSON is what is hashed, chained and signed.

Its chain, signing and evidence fields have the drill report's shape, so the same report
directory layout, signature and hash chain carry both (drills/report/store.py).
"""

import json
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Kind = Literal["watch", "runbook", "dns", "update", "checklist", "intake", "replay", "resolved", "note"]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class TimelineEntry(_Model):
    at: datetime
    kind: Kind
    what: str
    source: str  # where it was read: a journal run id, the status log, the intake record


class Measured(_Model):
    """Times and losses as measured; every figure names what it rests on, None when nobody measured it."""

    outage_started_at: datetime | None
    declared_at: datetime | None
    service_restored_at: datetime | None
    time_to_detect_seconds: float | None
    rto_seconds: float | None
    rto_basis: str
    rpo_seconds: float | None
    lost_writes: int | None
    loss_basis: str


class Impact(_Model):
    down_minutes: int
    components: list[str]
    requests_taken: int | None
    requests_basis: str
    credits_owed: dict[str, str]  # currency -> amount, for the month(s) the incident touched
    customers_owed: int
    credit_months: list[str]
    credits_basis: str


class CorrectiveAction(_Model):
    id: str
    action: str
    owner: str
    due: date
    status: Literal["open", "done"] = "open"
    closed: date | None = None


class Findings(_Model):
    """What people entered: the cause, what contributed, what will change."""

    root_cause: str
    contributing_factors: list[str]
    corrective_actions: list[CorrectiveAction]
    checklist_changes: list[str]
    entered_by: list[str]


class ChainLink(_Model):
    previous_report_id: str | None
    previous_sha256: str | None


class Signing(_Model):
    algorithm: Literal["Ed25519"] = "Ed25519"
    public_key: str
    key_fingerprint: str


class Evidence(_Model):
    name: str
    sha256: str
    bytes: int
    location: str


class IncidentReview(_Model):
    schema_version: Literal[1] = 1
    kind: Literal["incident-review"] = "incident-review"
    report_id: str
    incident_id: str
    title: str
    impact_level: str
    drill: bool
    generated_at: datetime
    timeline: list[TimelineEntry]
    measured: Measured
    impact: Impact
    findings: Findings
    sources: list[str] = Field(default_factory=list)  # what was read, and what was missing
    evidence: list[Evidence] = Field(default_factory=list)
    chain: ChainLink
    signing: Signing

    def canonical_bytes(self) -> bytes:
        data = self.model_dump(mode="json")
        return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
