"""Point-in-time restore: which recovery point and which archived WAL reach the asked time. Pure.

Given the catalog's points, the archived WAL (name and archive time of each file), the target
time and `now`, `choose` returns a plan or a reason the restore cannot be done. A refusal
is `bad_input` (exit 2: the request cannot be met, e.g. a time before every point) or unsafe
(exit 3: e.g. a hole in the WAL would make PostgreSQL stop short and promote early, losing
what comes after the hole without saying so).

Only physical points restore onto a host: a logical point (pg_dump) holds one moment and
replays no WAL, so it is refused with or without --to-time.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from policies.errors import ConfigError
from recovery.backups.catalog import PointStatus
from recovery.backups.manifest import RecoveryPoint
from recovery.wal.partials import StreamedPartial
from recovery.wal.segments import Segment, chain, parse_segment, segment_of, timeline_reasons

LISTING_RESOLUTION = timedelta(seconds=1)
"""S3 listings give LastModified to the second: a file may have been stored up to this much later."""


@dataclass(frozen=True)
class ArchivedFile:
    """One file under wal/ and when it reached the bucket (the newest WAL it can hold)."""

    name: str
    archived_at: datetime


@dataclass(frozen=True)
class RestorePlan:
    point: RecoveryPoint
    target_time: datetime | None  # None: to the end of the archived WAL
    segments: int  # archived segments after the point that recovery may read
    last_segment: str | None
    archive_end: datetime | None
    partial: StreamedPartial | None = None  # the streamed partial segment recovery ends with

    def describe(self) -> str:
        until = self.target_time.isoformat() if self.target_time else "the end of the archived WAL"
        wal = f"{self.segments} archived segment(s) up to {self.last_segment}" if self.last_segment \
            else "no archived WAL after it"
        tail = f", {self.partial.describe()}" if self.partial else ""
        return f"recovery point {self.point.id} (finished {self.point.finished_at.isoformat()}), " \
               f"recover to {until}; {wal}{tail}"


@dataclass(frozen=True)
class Refusal:
    reason: str
    bad_input: bool


def parse_time(text: str, field: str = "--to-time") -> datetime:
    """ISO-8601; a time without a zone is UTC."""
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ConfigError(f"{field} '{text}' is not an ISO-8601 time (e.g. 2026-11-24T15:30:00+00:00)") from None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when


def _pick(points: Sequence[PointStatus], point_id: str | None,
          target: datetime | None) -> RecoveryPoint | Refusal:
    if point_id is not None:
        found = next((s for s in points if s.point.id == point_id), None)
        if found is None:
            return Refusal(f"--id: no recovery point '{point_id}' in the bucket (see `crmdr backup list`)", True)
        return _usable(found, target)
    physical = [s for s in points if s.point.kind == "physical" and s.state() != "FAILED"]
    if not physical:
        return Refusal("no usable physical recovery point in the bucket: take one with "
                       "`crmdr backup run --kind physical`", True)
    if target is None:
        return max(physical, key=lambda s: s.point.finished_at).point
    before = [s for s in physical if s.point.finished_at <= target]
    if not before:
        oldest = min(physical, key=lambda s: s.point.finished_at).point
        return Refusal(f"--to-time {target.isoformat()} is before the oldest physical recovery point "
                       f"{oldest.id} (finished {oldest.finished_at.isoformat()}): nothing to recover from", True)
    return max(before, key=lambda s: s.point.finished_at).point


def _usable(status: PointStatus, target: datetime | None) -> RecoveryPoint | Refusal:
    point = status.point
    if point.kind != "physical":
        if target is not None:
            return Refusal(f"recovery point {point.id} is {point.kind}: not PITR-capable (it replays no WAL), "
                           "so it cannot be restored to --to-time; pick a physical point", True)
        return Refusal(f"recovery point {point.id} is {point.kind}: `crmdr restore` restores physical points "
                       "(base backup + WAL) onto a host; prove a logical one with "
                       f"`crmdr backup verify --id {point.id} --restore`", True)
    if status.state() == "FAILED":
        reasons = "; ".join(status.verdict.reasons) if status.verdict else ""
        return Refusal(f"recovery point {point.id} failed its last verification ({reasons}); "
                       "refusing to restore it", False)
    if target is not None and target < point.finished_at:
        return Refusal(f"--to-time {target.isoformat()} is before recovery point {point.id} finished "
                       f"({point.finished_at.isoformat()}): pick an older point or a later time", True)
    return point


def _after(point: RecoveryPoint, files: Sequence[ArchivedFile]) -> tuple[Segment, list[tuple[Segment, datetime]]]:
    """The point's stop segment, and the archived segments from it on (in order)."""
    stop = segment_of(point.stop_lsn or point.start_lsn or "0/0", point.cluster.timeline)
    found = sorted((seg, f.archived_at) for f in files
                   if (seg := parse_segment(f.name)) is not None and seg.number >= stop.number
                   and seg.timeline >= stop.timeline)
    return stop, found


def _reach(point: RecoveryPoint, files: Sequence[ArchivedFile], target: datetime | None,
           ) -> tuple[list[tuple[Segment, datetime]], Refusal | None]:
    """Segments recovery will read to reach `target` (all of them without one), or why it cannot."""
    _, after = _after(point, files)
    if target is None:
        return after, None
    if not after:
        return after, Refusal(f"no archived WAL after recovery point {point.id}: it restores only to its own "
                              f"end ({point.finished_at.isoformat()}); --to-time {target.isoformat()} cannot be "
                              "reached (install archiving with `crmdr backup wal install`)", True)
    end = max(when for _, when in after) + LISTING_RESOLUTION
    if target >= end:
        return after, Refusal(f"--to-time {target.isoformat()} is after the newest archived WAL "
                              f"(archived {end.isoformat()}): the WAL that reaches it is not in the bucket", True)
    upto = min((when, seg.number) for seg, when in after if when + LISTING_RESOLUTION > target)[1]
    return [(seg, when) for seg, when in after if seg.number <= upto], None


def _gap(point: RecoveryPoint, files: Sequence[ArchivedFile], used: list[tuple[Segment, datetime]],
         target: datetime | None) -> Refusal | None:
    if not used:
        return None
    stop, _ = _after(point, files)
    holes = chain([seg.name() for seg, _ in used], since=stop).gaps
    where = f"--to-time {target.isoformat()}" if target else "the end of the archived WAL"
    if holes:
        hole = parse_segment(holes[0])
        before = [when for seg, when in used if hole is not None and seg.number < hole.number]
        hint = f"; the newest time reachable is about {max(before).isoformat()}" if before else ""
        return Refusal(f"WAL chain gap between recovery point {point.id} and {where}: segment "
                       f"wal/{holes[0]} is missing, so recovery would stop short and promote early{hint}", False)
    used_timelines = {seg.timeline for seg, _ in used}
    missing = [r for r in timeline_reasons([f.name for f in files], point.cluster.timeline)
               if any(f"timeline {tli} " in r for tli in used_timelines)]
    return Refusal(f"{missing[0]}: recovery cannot follow it to {where}", False) if missing else None


def choose(points: Sequence[PointStatus], files: Sequence[ArchivedFile], *, point_id: str | None,
           target: datetime | None, now: datetime, partial: StreamedPartial | None = None) -> RestorePlan | Refusal:
    """The point to restore and the WAL to replay, or the reason it cannot be done.

    `partial` (`partials.restorable`: the streamed partial restore_command would serve) counts
    as the archive's last file, stored when its newest chunk was; the plan names it when used.
    """
    if target is not None and target > now:
        return Refusal(f"--to-time {target.isoformat()} is in the future (now {now.isoformat()}): "
                       "nothing is archived yet for that time", True)
    picked = _pick(points, point_id, target)
    if isinstance(picked, Refusal):
        return picked
    if partial is not None and partial.stored_at is not None:
        files = [*files, ArchivedFile(partial.segment, partial.stored_at)]
    used, refusal = _reach(picked, files, target)
    refusal = refusal or _gap(picked, files, used, target)
    if refusal is not None:
        return refusal
    tail = partial if partial is not None and any(seg.name() == partial.segment for seg, _ in used) else None
    archived = [u for u in used if tail is None or u[0].name() != tail.segment]
    last = max(archived, key=lambda u: u[0].number) if archived else None
    return RestorePlan(point=picked, target_time=target, segments=len(archived),
                       last_segment=last[0].name() if last else None,
                       archive_end=max(when for _, when in used) if used else None, partial=tail)
