"""The recovery point manifest: what a backup promises, sealed with its own SHA-256.

Stored as `points/<id>/manifest.json` next to the point's objects; verification results go
to `points/<id>/verifications/<when>.json`, so `backup list` knows what was proven.
Pure: no clock, no I/O.
"""

import hashlib
import json
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from policies.errors import VerificationFailed
from recovery.backups.compression import Compression
from recovery.backups.validation import TEXT, TableDigest

POINTS = "points/"

Kind = Literal["physical", "logical", "wal", "rds-snapshot"]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ObjectEntry(_Model):
    key: str
    size: int = Field(ge=0)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


class ClusterIdentity(_Model):
    """Which cluster and server a point came from; a restore must match it."""

    system_identifier: str
    pg_version: int = Field(description="server_version_num, e.g. 150004")
    timeline: int = Field(ge=1)

    @property
    def major(self) -> int:
        return self.pg_version // 10000


class RecoveryPoint(_Model):
    format_version: Literal[1] = 1
    id: str = Field(pattern=r"^[0-9A-Za-z._-]+$")
    kind: Kind
    stack: str
    tool_version: str
    started_at: datetime
    finished_at: datetime
    start_lsn: str | None = None
    stop_lsn: str | None = None
    cluster: ClusterIdentity
    objects: list[ObjectEntry]
    kms_key_id: str
    retain_until: datetime | None = None
    tables: dict[str, TableDigest] = Field(default_factory=dict)
    tables_at_lsn: str | None = Field(default=None, description="WAL position of the digest snapshot")
    tables_unstable: list[str] = Field(default_factory=list, description="written during the backup: "
                                       "not digested, checked by invariants and amcheck only")
    snapshot_arn: str | None = Field(default=None, description="rds-snapshot: the DR-region copy")
    compression: Compression = Field(default="none", description="how the objects' bytes are stored; "
                                     "their size and SHA-256 are of the stored bytes")
    taken_from: str | None = Field(default=None, description="the node the backup was streamed from: "
                                   "inventory name, role and address")
    manifest_sha256: str = ""

    @property
    def size(self) -> int:
        return sum(entry.size for entry in self.objects)


class Verification(_Model):
    """One verdict on one recovery point, with the evidence behind it."""

    point_id: str
    checked_at: datetime
    restore: bool
    ok: bool
    reasons: list[str]
    evidence: dict[str, object] = Field(default_factory=dict)


def point_id(started_at: datetime, kind: Kind) -> str:
    """Sortable by time: 20261124T153518Z-physical."""
    return f"{started_at.strftime('%Y%m%dT%H%M%SZ')}-{kind}"


def point_prefix(pid: str) -> str:
    return f"{POINTS}{pid}/"


def manifest_key(pid: str) -> str:
    return f"{point_prefix(pid)}manifest.json"


RESTORE_SUFFIX = "-restore.json"


def verification_key(pid: str, checked_at: datetime, *, restore: bool = False) -> str:
    """Sortable by time; a restore-test's key says so, so the strongest proof is found without reading all."""
    stamp = checked_at.strftime('%Y%m%dT%H%M%S.%fZ')
    return f"{point_prefix(pid)}verifications/{stamp}{RESTORE_SUFFIX if restore else '.json'}"


# Fields added after format 1 was first written: left out of the seal while at their default,
# so manifests sealed before they existed still match their own SHA-256.
_LATER_FIELDS: dict[str, object] = {"compression": "none", "taken_from": None}
_LATER_DIGEST_FIELDS: dict[str, object] = {"method": TEXT}  # in each of `tables`


def _without_defaults(body: dict[str, Any], later: dict[str, object]) -> dict[str, Any]:
    return {name: value for name, value in body.items() if name not in later or value != later[name]}


def _canonical(point: RecoveryPoint) -> bytes:
    body = _without_defaults(point.model_dump(mode="json", exclude={"manifest_sha256"}), _LATER_FIELDS)
    body["tables"] = {name: _without_defaults(digest, _LATER_DIGEST_FIELDS) for name, digest in body["tables"].items()}
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def seal(point: RecoveryPoint) -> RecoveryPoint:
    """The point with `manifest_sha256` set over its canonical JSON."""
    return point.model_copy(update={"manifest_sha256": hashlib.sha256(_canonical(point)).hexdigest()})


def to_bytes(point: RecoveryPoint) -> bytes:
    return (json.dumps(point.model_dump(mode="json"), indent=2, sort_keys=True) + "\n").encode()


def parse_manifest(data: bytes, key: str) -> RecoveryPoint:
    """Parse and self-check a stored manifest; VerificationFailed names the key."""
    try:
        point = RecoveryPoint.model_validate_json(data)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "(document)"
        raise VerificationFailed(f"manifest {key} is not a valid manifest: {where}: {first['msg']}") from None
    if seal(point).manifest_sha256 != point.manifest_sha256:
        raise VerificationFailed(f"manifest {key} was modified after it was written "
                                 "(its content does not match its own SHA-256)")
    return point


def identity_reasons(point: RecoveryPoint, expected: ClusterIdentity | None) -> list[str]:
    """Reasons the point cannot belong to the expected cluster (other system id or major)."""
    if expected is None:
        return []
    reasons = []
    if point.cluster.system_identifier != expected.system_identifier:
        reasons.append(f"manifest {manifest_key(point.id)} is from another cluster (system identifier "
                       f"{point.cluster.system_identifier}, expected {expected.system_identifier})")
    if point.cluster.major != expected.major:
        reasons.append(f"manifest {manifest_key(point.id)} is from PostgreSQL {point.cluster.major}, "
                       f"expected {expected.major}")
    return reasons


def parse_verification(data: bytes) -> Verification | None:
    """A stored verdict, or None when it cannot be read (then it proves nothing)."""
    try:
        return Verification.model_validate_json(data)
    except ValidationError:
        return None
