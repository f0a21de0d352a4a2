"""The drill report: one typed document, the canonical JSON every other rendering comes from.

The fields are the ones an auditor asks for (SOC 2 A1.3, ISO 22301 8.5, NIST SP 800-84):
who ran what, against which stack, measured how, judged against which objective, with what
evidence, cleaned up how, and when the next test is due. The JSON Schema shipped in
`schema/drill-report-v1.json` is generated from this model (a unit test keeps them equal).
"""

import json
from datetime import datetime
from importlib import resources
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_VERSION: Literal[1] = 1
SCHEMA_ID = "https://github.com/crm-dr/crm-dr/schemas/drill-report-v1.json"
SCHEMA_FILE = "drill-report-v1.json"


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Toolkit(_Model):
    version: str
    git_commit: str | None = None


class Scope(_Model):
    """What was tested: the stack, its environment and the parts the drill touched."""

    stack: str
    environment: str
    regions: dict[str, str]
    database_engine: str
    nodes: list[str]
    dns_name: str
    controls: list[str] = Field(default_factory=list)


class Drill(_Model):
    type: Literal["backup-verify", "restore-test", "failover"]
    scenario: str | None = None
    tier: str
    policy: str
    objectives_of_tier: dict[str, str]


class ObjectiveResult(_Model):
    name: str
    unit: Literal["seconds", "writes", "check"]
    measured: float | None
    limit: float | None
    passed: bool
    margin: float | None
    detail: str


class Phase(_Model):
    """One step of the timeline; offsets are seconds from the drill's start."""

    name: str
    status: str
    started_at: datetime
    offset_seconds: float
    duration_seconds: float
    detail: str = ""


class Check(_Model):
    name: str
    passed: bool
    detail: str


class Person(_Model):
    name: str
    role: str


class Action(_Model):
    action: str
    owner: str
    due: datetime | None = None


class Evidence(_Model):
    """An artifact kept with the report; its hash is covered by the report's signature."""

    name: str
    sha256: str
    bytes: int
    location: str


class ChainLink(_Model):
    previous_report_id: str | None
    previous_sha256: str | None


class Signing(_Model):
    algorithm: Literal["Ed25519"] = "Ed25519"
    public_key: str
    key_fingerprint: str


class DrillReport(_Model):
    """Canonical form: `canonical_bytes()` is what is hashed, chained and signed."""

    schema_version: Literal[1] = SCHEMA_VERSION
    report_id: str
    started_at: datetime
    finished_at: datetime
    toolkit: Toolkit
    scope: Scope
    drill: Drill
    passed: bool
    objectives: list[ObjectiveResult]
    aborted: str | None = None
    """Set when a signal stopped the drill: where it stopped and what its rollback did (never passed)."""
    measured: dict[str, Any]
    timeline: list[Phase]
    integrity_checks: list[Check]
    isolation: str
    operator: Person
    approvals: list[Person]
    deviations: list[str]
    corrective_actions: list[Action]
    cleanup: list[Check]
    evidence: list[Evidence]
    next_drill_due: datetime
    chain: ChainLink
    signing: Signing

    def canonical_bytes(self) -> bytes:
        """Sorted keys, no whitespace, UTF-8: the same report always gives the same bytes."""
        data = self.model_dump(mode="json")
        return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def report_schema() -> dict[str, Any]:
    """The JSON Schema of the report, as shipped."""
    schema = DrillReport.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = SCHEMA_ID
    return schema


def shipped_schema() -> dict[str, Any]:
    """The schema file shipped with the toolkit (what auditors validate reports against)."""
    text = (resources.files("drills.report") / "schema" / SCHEMA_FILE).read_text(encoding="utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded
