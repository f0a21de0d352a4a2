"""Freshness against the RPO and the retention plan. Pure, with `now` given."""

from datetime import UTC, datetime, timedelta

import pytest

from recovery.backups.catalog import Catalog, PointStatus, freshness_reason, retention_plan
from recovery.backups.manifest import ClusterIdentity, ObjectEntry, RecoveryPoint, Verification, seal

pytestmark = pytest.mark.unit

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def status(hours_ago: float, segment: int, *, ok: bool | None, retain_days: float = 35) -> PointStatus:
    finished = NOW - timedelta(hours=hours_ago)
    pid = f"p{hours_ago:g}"
    point = seal(RecoveryPoint(
        id=pid, kind="physical", stack="s", tool_version="0", started_at=finished, finished_at=finished,
        start_lsn=f"0/{segment:X}000028", cluster=ClusterIdentity(system_identifier="1", pg_version=150004,
                                                                   timeline=1),
        objects=[ObjectEntry(key=f"points/{pid}/base.tar", size=1, sha256="0" * 64)], kms_key_id="k",
        retain_until=finished + timedelta(days=retain_days)))
    verdict = None if ok is None else Verification(point_id=pid, checked_at=finished, restore=True, ok=ok,
                                                   reasons=[] if ok else ["x"])
    return PointStatus(point, verdict)


def test_freshness_is_judged_on_the_newest_verified_point() -> None:
    catalog = Catalog([status(30, 2, ok=True), status(1, 9, ok=False), status(0.1, 10, ok=None)])

    reason = freshness_reason(catalog, timedelta(hours=24), NOW)

    assert reason == "the newest verified recovery point p30 is 1d 6h old, older than the RPO 1d 0h"
    assert freshness_reason(catalog, timedelta(hours=48), NOW) is None
    assert "no verified recovery point" in str(freshness_reason(Catalog([]), timedelta(hours=1), NOW))


def test_retention_never_deletes_the_newest_verified_point() -> None:
    old_verified = status(24 * 40, 2, ok=True, retain_days=35)
    older_unverified = status(24 * 50, 1, ok=None, retain_days=35)
    catalog = Catalog([older_unverified, old_verified])
    wal = ["000000010000000000000001", "000000010000000000000002", "00000002.history"]

    plan = retention_plan(catalog, wal, NOW)

    assert plan.points == ["p1200"]  # the 50-day-old one; the 40-day-old verified one stays
    assert plan.kept == "p960"
    assert plan.wal == ["000000010000000000000001"]  # older than every remaining point
    assert plan.wal_start == 2  # the streamed partials before it go too (recovery.wal.partials.removable)
