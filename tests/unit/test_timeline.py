"""Runbook phases from journal lines: span, status and offset from the drill's start."""

from datetime import UTC, datetime

import pytest

from drills.timeline import journal_events, runbook_phases

pytestmark = pytest.mark.unit

JOURNAL = """\
{"run": "r1", "runbook": "failover", "attempt": 1, "mono": 0, "step": "run", "status": "started", "wall": "2026-03-01T12:00:00.000+00:00", "phase": ""}
{"run": "r1", "runbook": "failover", "attempt": 1, "mono": 0, "step": "fence", "status": "started", "wall": "2026-03-01T12:00:01.000+00:00", "phase": "fence"}
{"run": "r1", "runbook": "failover", "attempt": 1, "mono": 0, "step": "fence", "status": "succeeded", "wall": "2026-03-01T12:00:01.250+00:00", "phase": "fence"}
{"run": "r1", "runbook": "failover", "attempt": 1, "mono": 0, "step": "promote", "status": "started", "wall": "2026-03-01T12:00:01.300+00:00", "phase": "promote"}
{"run": "r1", "runbook": "failover", "attempt": 1, "mono": 0, "step": "promote", "status": "failed", "wall": "2026-03-01T12:00:01.400+00:00", "phase": "promote"}
{"run": "r1", "runbook": "failover", "attempt": 1, "mono": 0, "step": "promote", "status": "succeeded", "wall": "2026-03-01T12:00:01.600+00:00", "phase": "promote"}
{"run": "r1", "runbook": "failover", "attempt": 1, "mono": 0, "step": "dns", "status": "start"""


def test_phases_span_their_steps_and_a_failed_attempt_marks_the_phase() -> None:
    origin = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    phases = runbook_phases(journal_events(JOURNAL), origin, prefix="runbook: ")
    assert [p.name for p in phases] == ["runbook: fence", "runbook: promote"]
    fence, promote = phases
    assert (fence.offset_seconds, fence.duration_seconds, fence.status) == (1.0, 0.25, "succeeded")
    assert promote.duration_seconds == pytest.approx(0.3) and promote.status == "failed"
