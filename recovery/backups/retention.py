"""`backup prune`: apply the tier's retention to the bucket, as catalog.retention_plan decides.

Object Lock has the last word: a version S3 refuses to delete is kept and reported, never
forced (no governance bypass). Partial failure is data: each point maps to its outcome.
"""

from dataclasses import dataclass, field
from datetime import datetime

from policies.errors import CloudError
from recovery.backups.catalog import RetentionPlan, retention_plan
from recovery.backups.manifest import point_prefix
from recovery.backups.verify import read_catalog
from recovery.ports import ObjectStore
from recovery.wal.segments import WAL


@dataclass(frozen=True)
class Pruned:
    plan: RetentionPlan
    outcomes: dict[str, str] = field(default_factory=dict)  # key or point id -> deleted / reason


def prune(store: ObjectStore, now: datetime, *, dry_run: bool) -> Pruned:
    names = [obj.key[len(WAL):] for obj in store.list(WAL)]
    plan = retention_plan(read_catalog(store), names, now)
    outcomes: dict[str, str] = {}
    if dry_run:
        return Pruned(plan, {item: "would delete" for item in [*plan.points, *(WAL + n for n in plan.wal)]})
    for pid in plan.points:
        keys = [obj.key for obj in store.list(point_prefix(pid))]
        # the manifest last: a point whose objects could not all go stays listed
        keys.sort(key=lambda key: key.endswith("manifest.json"))
        outcomes[pid] = _delete_all(store, keys)
    for name in plan.wal:
        outcomes[f"{WAL}{name}"] = _delete_all(store, [f"{WAL}{name}"])
    return Pruned(plan, outcomes)


def _delete_all(store: ObjectStore, keys: list[str]) -> str:
    for key in keys:
        try:
            store.delete(key)
        except CloudError as err:
            return f"kept: {err}"
    return "deleted"
