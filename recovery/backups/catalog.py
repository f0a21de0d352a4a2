"""What the bucket holds, judged against the tier: freshness, proof and retention. Pure.

A point counts as verified only by a stored verdict that passed; with a restore-test it
counts as restored. Freshness is judged on the newest verified point (a listing proves
nothing), against the tier's RPO.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from recovery.backups.manifest import RecoveryPoint, Verification
from recovery.wal.segments import Chain, parse_segment, segment_of


@dataclass(frozen=True)
class PointStatus:
    point: RecoveryPoint
    verdict: Verification | None  # the proof that counts (strongest_proof)

    @property
    def verified(self) -> bool:
        return self.verdict is not None and self.verdict.ok

    @property
    def restored(self) -> bool:
        return self.verified and self.verdict is not None and self.verdict.restore

    def state(self) -> str:
        if self.verdict is None:
            return "unverified"
        if not self.verdict.ok:
            return "FAILED"
        return "restored+validated" if self.verdict.restore else "integrity-ok"


def strongest_proof(newest: Verification | None, restore_test: Verification | None) -> Verification | None:
    """The verdict that stands: a failure when the newest check failed, else the strongest that passed.

    A plain integrity check after a restore-test proves less, not the opposite: the point's bytes
    are immutable, so a passing restore-test stays the proof until a later check fails.
    """
    if newest is None or not newest.ok:
        return newest
    if restore_test is not None and restore_test.ok:
        return restore_test
    return newest


@dataclass(frozen=True)
class Catalog:
    points: list[PointStatus]
    broken: list[str] = field(default_factory=list)  # manifests that could not be read
    wal: Chain | None = None


def age_text(age: timedelta) -> str:
    """Rounded for people: 45s, 12m, 3h 5m, 2d 4h."""
    seconds = max(0, int(age.total_seconds()))
    days, hours, minutes = seconds // 86400, seconds % 86400 // 3600, seconds % 3600 // 60
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    return f"{minutes}m" if minutes else f"{seconds}s"


def newest_verified(catalog: Catalog) -> PointStatus | None:
    proven = [status for status in catalog.points if status.verified]
    return max(proven, key=lambda s: s.point.finished_at) if proven else None


def freshness_reason(catalog: Catalog, rpo: timedelta, now: datetime) -> str | None:
    """Why the newest proven point breaks the RPO (None: within it)."""
    best = newest_verified(catalog)
    if best is None:
        return "no verified recovery point: run `crmdr backup verify --latest`"
    age = now - best.point.finished_at
    if age > rpo:
        return (f"the newest verified recovery point {best.point.id} is {age_text(age)} old, "
                f"older than the RPO {age_text(rpo)}")
    return None


def expired(catalog: Catalog, now: datetime) -> list[PointStatus]:
    """Points retention may delete: lock expired, and never the newest verified one."""
    keep = newest_verified(catalog)
    return [s for s in catalog.points
            if s is not keep and s.point.retain_until is not None and s.point.retain_until <= now]


@dataclass(frozen=True)
class RetentionPlan:
    points: list[str]  # recovery point ids whose objects may go
    wal: list[str]  # archived WAL files older than every point that stays
    kept: str | None  # the newest verified point, never deleted
    wal_start: int | None = None  # the oldest segment number a remaining physical point needs


def retention_plan(catalog: Catalog, wal_names: list[str], now: datetime) -> RetentionPlan:
    """What retention may delete now; history files and WAL any remaining point needs stay."""
    doomed = {s.point.id for s in expired(catalog, now)}
    remaining = [s.point for s in catalog.points if s.point.id not in doomed]
    starts = [segment_of(p.start_lsn, p.cluster.timeline) for p in remaining
              if p.kind == "physical" and p.start_lsn]
    wal: list[str] = []
    oldest = min((s.number for s in starts), default=None)
    if oldest is not None:
        wal = [name for name in wal_names
               if (segment := parse_segment(name[:24])) is not None and segment.number < oldest
               and not name.endswith(".history")]
    best = newest_verified(catalog)
    return RetentionPlan(sorted(doomed), sorted(wal), best.point.id if best else None, oldest)
