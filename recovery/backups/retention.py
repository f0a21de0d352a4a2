"""`backup prune`: apply the tier's retention to the bucket, as catalog.retention_plan decides.

Object Lock has the last word: a version S3 refuses to delete is kept and reported, never
forced (no governance bypass). Partial failure is data: each point maps to its outcome.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from policies.errors import CloudError
from recovery.backups.catalog import RetentionPlan, retention_plan
from recovery.backups.manifest import POINTS, point_prefix
from recovery.backups.orphans import RUNNING_GRACE, Orphan, orphan_keys, removal_limitation
from recovery.backups.verify import read_catalog
from recovery.ports import ObjectStore, Upload
from recovery.wal.partials import group, lock_limitation, parse_chunk, removable
from recovery.wal.segments import WAL
from recovery.wal.streaming import PARTIAL, PARTIAL_PREFIX, partial_prefix


@dataclass(frozen=True)
class Pruned:
    plan: RetentionPlan
    outcomes: dict[str, str] = field(default_factory=dict)  # key or point id -> deleted / reason
    orphans: dict[str, str] = field(default_factory=dict)  # orphan description -> deleted / aborted / kept ...
    partials: dict[str, str] = field(default_factory=dict)  # streamed partial's prefix -> deleted / locked ...


def find_orphans(store: ObjectStore) -> list[Orphan]:
    """Objects of points without a manifest (with their lock) and every unfinished multipart upload."""
    found = []
    for key in orphan_keys(obj.key for obj in store.list(POINTS)):
        head = store.head(key)
        if head is not None:
            found.append(Orphan(key, head.size, "object", head.last_modified, head.retain_until))
    found += [Orphan(u.key, u.size, "upload", u.initiated, upload_id=u.upload_id) for u in store.uploads()]
    return found


def prune_orphans(store: ObjectStore, now: datetime, *, dry_run: bool,
                  grace: timedelta = RUNNING_GRACE) -> dict[str, str]:
    """Remove what Object Lock and the running-backup grace allow; say why and until when the rest stays."""
    outcomes: dict[str, str] = {}
    for orphan in find_orphans(store):
        reason = removal_limitation(orphan, now, grace)
        if reason or dry_run:
            outcomes[orphan.describe()] = reason or "would remove"
        elif orphan.kind == "upload":
            store.abort_upload(Upload(orphan.key, orphan.upload_id, orphan.since, orphan.size))
            outcomes[orphan.describe()] = "aborted"
        else:
            outcomes[orphan.describe()] = _delete_all(store, [orphan.key])
    return outcomes


def prune(store: ObjectStore, now: datetime, *, dry_run: bool, grace: timedelta = RUNNING_GRACE) -> Pruned:
    done = _prune_points(store, now, dry_run=dry_run)
    return Pruned(done.plan, done.outcomes, prune_orphans(store, now, dry_run=dry_run, grace=grace), done.partials)


def prune_partials(store: ObjectStore, plan: RetentionPlan, wal_names: list[str], now: datetime, *,
                   dry_run: bool) -> dict[str, str]:
    """Streamed partials whose segment is archived whole, or older than every kept point's WAL start.

    A partial goes whole: while any of its chunks is under Object Lock, all stay (and until when
    is said), so a later prune removes them; S3 refusing a delete is reported as for WAL.
    """
    chunks = [c for obj in store.list(PARTIAL_PREFIX) if (c := parse_chunk(obj.key, obj.size)) is not None]
    doomed = removable(chunks, wal_names, plan.wal_start)
    outcomes: dict[str, str] = {}
    for segment, parts in group(chunks).items():
        if segment not in doomed:
            continue
        heads = [store.head(c.key) for c in parts]
        what = f"{len(parts)} chunk(s), {doomed[segment]}"
        if reason := lock_limitation([h.retain_until for h in heads if h is not None], now):
            outcomes[partial_prefix(segment + PARTIAL)] = f"{reason} ({what})"
        elif dry_run:
            outcomes[partial_prefix(segment + PARTIAL)] = f"would delete ({what})"
        else:
            outcomes[partial_prefix(segment + PARTIAL)] = f"{_delete_all(store, [c.key for c in parts])} ({what})"
    return outcomes


def _prune_points(store: ObjectStore, now: datetime, *, dry_run: bool) -> Pruned:
    names = [obj.key[len(WAL):] for obj in store.list(WAL)]
    plan = retention_plan(read_catalog(store), names, now)
    outcomes: dict[str, str] = {}
    partials = prune_partials(store, plan, names, now, dry_run=dry_run)
    if dry_run:
        return Pruned(plan, {item: "would delete" for item in [*plan.points, *(WAL + n for n in plan.wal)]},
                      partials=partials)
    for pid in plan.points:
        keys = [obj.key for obj in store.list(point_prefix(pid))]
        # the manifest last: a point whose objects could not all go stays listed
        keys.sort(key=lambda key: key.endswith("manifest.json"))
        outcomes[pid] = _delete_all(store, keys)
    for name in plan.wal:
        outcomes[f"{WAL}{name}"] = _delete_all(store, [f"{WAL}{name}"])
    return Pruned(plan, outcomes, partials=partials)


def _delete_all(store: ObjectStore, keys: list[str]) -> str:
    for key in keys:
        try:
            store.delete(key)
        except CloudError as err:
            return f"kept: {err}"
    return "deleted"
