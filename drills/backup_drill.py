"""backup-verify and restore-test drills: the backups issue's verification, judged and timed.

Non-disruptive: they read the DR bucket and restore into an isolated scratch server; production
sees only reads of the bucket.
"""

import json
import time
from datetime import UTC, datetime

from drills.context import DrillContext
from drills.judge import backup_objectives
from drills.report.build import DrillOutcome
from drills.report.model import Check
from drills.report.store import write_evidence
from drills.timeline import phase_at
from policies.errors import DrError
from policies.sla import DrillType
from recovery.adapters.s3_store import S3ObjectStore
from recovery.backups.verify import latest_point_id, load_point, verify_point

BUCKET_ONLY = ("non-disruptive: read the DR-region backup bucket only; no production host, "
               "database or DNS record was touched")


def _drill(context: DrillContext, *, restore: bool) -> DrillOutcome:
    kind: DrillType = "restore-test" if restore else "backup-verify"
    store = S3ObjectStore(context.inventory, lock_mode=context.tier.object_lock_mode)
    origin = datetime.now(UTC)
    try:
        pid = latest_point_id(store)
        point = load_point(store, pid)
    except DrError as err:
        objectives = backup_objectives(context.tier, [str(err)], None, None)
        return DrillOutcome(drill_type=kind, objectives=objectives, measured={"recovery_point": None},
                            timeline=[], integrity_checks=[], isolation=BUCKET_ONLY, cleanup=[])
    began, tick = datetime.now(UTC), time.monotonic()
    verdict = verify_point(context.inventory, store, pid, restore=restore)
    seconds, ended = time.monotonic() - tick, datetime.now(UTC)
    age = (began - point.finished_at).total_seconds()
    evidence = write_evidence(context.report_dir, "verification.json",
                              verdict.model_dump_json(indent=2).encode())
    isolation = str(verdict.evidence.get("isolation") or "")
    measured: dict[str, object] = {"recovery_point": pid, "kind": point.kind, "bytes": point.size,
                                   "point_finished_at": point.finished_at.isoformat(),
                                   "point_age_seconds": round(age, 3), "verify_seconds": round(seconds, 3)}
    if restore:
        measured["restore_seconds"] = round(seconds, 3)
        measured["rpo_seconds"] = round(age, 3)
    checks = [Check(name=name, passed=True, detail=json.dumps(value, default=str)[:300])
              for name, value in sorted(verdict.evidence.items()) if name not in ("isolation", "scratch_cleanup")]
    checks += [Check(name="verification", passed=False, detail=reason) for reason in verdict.reasons]
    return DrillOutcome(
        drill_type=kind,
        objectives=backup_objectives(context.tier, verdict.reasons, age, seconds if restore else None),
        measured=measured,
        timeline=[phase_at("select newest recovery point", origin, began, origin),
                  phase_at("restore + validate" if restore else "verify integrity", began, ended, origin,
                           "succeeded" if verdict.ok else "failed")],
        integrity_checks=checks,
        isolation=f"{BUCKET_ONLY}; restored copy: {isolation}" if isolation else BUCKET_ONLY,
        cleanup=_cleanup(verdict.evidence.get("scratch_cleanup")),
        evidence=[evidence],
    )


def _cleanup(found: object) -> list[Check]:
    """The scratch server's removal as verify checked it; a hash-only verify starts none."""
    if not isinstance(found, dict):
        return []
    return [Check(name="scratch server removed", passed=found.get("clean") is True, detail=str(found.get("detail")))]


def backup_verify(context: DrillContext) -> DrillOutcome:
    return _drill(context, restore=False)


def restore_test(context: DrillContext) -> DrillOutcome:
    return _drill(context, restore=True)
