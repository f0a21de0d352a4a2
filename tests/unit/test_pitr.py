"""Point-in-time restore decisions: the point chosen, or each reason it cannot be done. Pure."""

from datetime import UTC, datetime, timedelta

import pytest

from policies.errors import ConfigError
from recovery.backups.catalog import PointStatus
from recovery.backups.manifest import ClusterIdentity, ObjectEntry, RecoveryPoint, Verification, seal
from recovery.backups.pitr import ArchivedFile, Refusal, RestorePlan, choose, parse_time
from recovery.wal.partials import StreamedPartial
from recovery.wal.segments import Segment

pytestmark = pytest.mark.unit

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def at(minutes_ago: float) -> datetime:
    return NOW - timedelta(minutes=minutes_ago)


def point(pid: str, minutes_ago: float, segment: int, *, kind: str = "physical",
          ok: bool | None = None) -> PointStatus:
    finished = at(minutes_ago)
    made = seal(RecoveryPoint(
        id=pid, kind=kind, stack="s", tool_version="0",
        started_at=finished, finished_at=finished,
        start_lsn=f"0/{segment:X}000028", stop_lsn=f"0/{segment:X}000100",
        cluster=ClusterIdentity(system_identifier="1", pg_version=150004, timeline=1),
        objects=[ObjectEntry(key=f"points/{pid}/base.tar", size=1, sha256="0" * 64)], kms_key_id="k"))
    verdict = None if ok is None else Verification(point_id=pid, checked_at=finished, restore=True, ok=ok,
                                                   reasons=[] if ok else ["object missing"])
    return PointStatus(made, verdict)


def wal(*segments: tuple[int, float], timeline: int = 1) -> list[ArchivedFile]:
    """(segment number, minutes ago it was archived)."""
    return [ArchivedFile(Segment(timeline, number).name(), at(ago)) for number, ago in segments]


POINTS = [point("old", 120, 2), point("new", 60, 8)]
ARCHIVE = wal(*[(n, 120 - 10 * (n - 2)) for n in range(2, 14)])  # segment 13 archived 10 min ago


def refused(result: RestorePlan | Refusal) -> Refusal:
    assert isinstance(result, Refusal), result
    return result


def test_newest_physical_point_finished_before_the_time_is_chosen() -> None:
    plan = choose(POINTS, ARCHIVE, point_id=None, target=at(90), now=NOW)

    assert isinstance(plan, RestorePlan)
    assert plan.point.id == "old"
    assert plan.last_segment == "000000010000000000000005"  # first segment archived at or after T
    assert plan.segments == 4  # the stop segment 2 .. 5


def test_without_a_time_the_newest_point_replays_the_whole_archive() -> None:
    plan = choose(POINTS, ARCHIVE, point_id=None, target=None, now=NOW)

    assert isinstance(plan, RestorePlan)
    assert (plan.point.id, plan.target_time, plan.last_segment) == ("new", None, "00000001000000000000000D")
    assert "the end of the archived WAL" in plan.describe()


def test_a_time_in_the_future_is_refused() -> None:
    reason = refused(choose(POINTS, ARCHIVE, point_id=None, target=NOW + timedelta(minutes=5), now=NOW))

    assert reason.bad_input and "is in the future" in reason.reason


def test_a_time_before_the_oldest_point_is_refused() -> None:
    reason = refused(choose(POINTS, ARCHIVE, point_id=None, target=at(180), now=NOW))

    assert reason.bad_input
    assert "before the oldest physical recovery point old" in reason.reason


def test_a_time_after_the_last_archived_segment_cannot_be_reached() -> None:
    reason = refused(choose(POINTS, ARCHIVE, point_id=None, target=at(5), now=NOW))

    assert reason.bad_input and "after the newest archived WAL" in reason.reason


def test_archive_times_count_to_the_second_of_an_s3_listing() -> None:
    newest = at(10)  # segment 13, listed to the second: it may have been stored up to 1 s later

    within = choose(POINTS, ARCHIVE, point_id=None, target=newest + timedelta(milliseconds=500), now=NOW)
    beyond = refused(choose(POINTS, ARCHIVE, point_id=None, target=newest + timedelta(seconds=1), now=NOW))

    assert isinstance(within, RestorePlan) and within.last_segment == "00000001000000000000000D"
    assert "after the newest archived WAL" in beyond.reason


def test_a_time_after_a_point_without_archived_wal_cannot_be_reached() -> None:
    reason = refused(choose(POINTS, [], point_id=None, target=at(30), now=NOW))

    assert reason.bad_input and "no archived WAL after recovery point new" in reason.reason
    assert isinstance(choose(POINTS, [], point_id=None, target=None, now=NOW), RestorePlan)  # to its own end


def test_a_gap_between_the_point_and_the_time_is_unsafe() -> None:
    holed = [f for f in ARCHIVE if f.name != "000000010000000000000004"]

    reason = refused(choose(POINTS, holed, point_id=None, target=at(80), now=NOW))

    assert not reason.bad_input
    assert "gap between recovery point old and --to-time" in reason.reason
    assert "wal/000000010000000000000004 is missing" in reason.reason
    assert f"newest time reachable is about {at(110).isoformat()}" in reason.reason


def test_a_gap_after_the_time_does_not_matter() -> None:
    holed = [f for f in ARCHIVE if f.name != "00000001000000000000000A"]

    assert isinstance(choose(POINTS, holed, point_id=None, target=at(90), now=NOW), RestorePlan)
    assert "end of the archived WAL" in refused(choose(POINTS, holed, point_id=None, target=None, now=NOW)).reason


def test_a_new_timeline_without_its_history_file_is_unsafe() -> None:
    files = [*ARCHIVE, *wal((14, 5), timeline=2)]

    reason = refused(choose(POINTS, files, point_id=None, target=None, now=NOW))

    assert "no history file wal/00000002.history" in reason.reason and not reason.bad_input
    with_history = [*files, ArchivedFile("00000002.history", at(5))]
    assert isinstance(choose(POINTS, with_history, point_id=None, target=None, now=NOW), RestorePlan)


def test_logical_points_are_not_pitr_capable() -> None:
    points = [*POINTS, point("dump", 30, 12, kind="logical")]

    with_time = refused(choose(points, ARCHIVE, point_id="dump", target=at(20), now=NOW))
    without = refused(choose(points, ARCHIVE, point_id="dump", target=None, now=NOW))

    assert "not PITR-capable" in with_time.reason and with_time.bad_input
    assert "restores physical points" in without.reason
    latest = choose(points, ARCHIVE, point_id=None, target=None, now=NOW)
    assert isinstance(latest, RestorePlan) and latest.point.id == "new"  # --latest skips logical points


def test_a_point_that_failed_verification_is_refused_and_skipped() -> None:
    points = [point("old", 120, 2), point("new", 60, 8, ok=False)]

    reason = refused(choose(points, ARCHIVE, point_id="new", target=None, now=NOW))
    latest = choose(points, ARCHIVE, point_id=None, target=None, now=NOW)

    assert not reason.bad_input and "failed its last verification (object missing)" in reason.reason
    assert isinstance(latest, RestorePlan) and latest.point.id == "old"


def test_a_named_point_must_exist_and_end_before_the_time() -> None:
    missing = refused(choose(POINTS, ARCHIVE, point_id="nope", target=None, now=NOW))
    early = refused(choose(POINTS, ARCHIVE, point_id="new", target=at(90), now=NOW))

    assert missing.bad_input and "--id: no recovery point 'nope'" in missing.reason
    assert early.bad_input and "is before recovery point new finished" in early.reason


def test_no_physical_point_at_all() -> None:
    reason = refused(choose([], ARCHIVE, point_id=None, target=None, now=NOW))

    assert "crmdr backup run --kind physical" in reason.reason


def test_times_without_a_zone_are_utc() -> None:
    assert parse_time("2026-11-24T11:00:00") == datetime(2026, 11, 24, 11, 0, tzinfo=UTC)
    assert parse_time("2026-11-24T12:00:00+01:00") == datetime(2026, 11, 24, 11, 0, tzinfo=UTC)
    with pytest.raises(ConfigError, match="--to-time 'yesterday' is not an ISO-8601 time"):
        parse_time("yesterday")


PARTIAL = StreamedPartial("00000001000000000000000E", 40960, 3, at(1))


def test_the_streamed_partial_ends_the_replay_and_the_plan_names_it() -> None:
    plan = choose(POINTS, ARCHIVE, point_id=None, target=None, now=NOW, partial=PARTIAL)

    assert isinstance(plan, RestorePlan) and plan.partial == PARTIAL
    assert (plan.segments, plan.last_segment, plan.archive_end) == (6, "00000001000000000000000D", at(1))
    assert "then the streamed partial segment 00000001000000000000000E" in plan.describe()
    assert "40960 of 16777216 bytes received" in plan.describe()


def test_a_time_only_the_streamed_partial_holds_is_reachable_and_one_before_it_does_not_use_it() -> None:
    """Refused without the partial (after the newest archived WAL); with it, the partial is the last file."""
    assert "after the newest archived WAL" in refused(choose(POINTS, ARCHIVE, point_id=None, target=at(5),
                                                             now=NOW)).reason
    late = choose(POINTS, ARCHIVE, point_id=None, target=at(5), now=NOW, partial=PARTIAL)
    early = choose(POINTS, ARCHIVE, point_id=None, target=at(90), now=NOW, partial=PARTIAL)

    assert isinstance(late, RestorePlan) and late.partial == PARTIAL
    assert isinstance(early, RestorePlan) and early.partial is None and "partial" not in early.describe()
