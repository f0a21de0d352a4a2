"""`crmdr restore`: a physical point plus archived WAL onto the standby, to a point in time.

One lab for the module (slot 4): GIVEN WAL archiving installed, a physical backup, a row
committed before T and one after T, both archived. The dry run and the refusal change
nothing, so they share the lab with the restores (which run last and rebuild the standby;
each works whether the standby is still a standby or already a restored primary).
"""

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from tenacity import Retrying, stop_after_delay, wait_fixed

from drills.lab.postgres import stop
from drills.lab.settings import LabPaths
from recovery.adapters.postgres import connect
from recovery.runbooks.journal.files import read_events
from tests.conftest import crmdr
from tests.lab.conftest import Lab, start_lab, stop_lab
from tests.lab.runbook_helpers import cloud_state, role_files, run

pytestmark = [pytest.mark.lab, pytest.mark.slow]

BEFORE, AFTER = 910001, 910002
STEPS = ["stop", "move-aside", "fetch", "configure", "start", "promoted", "settle", "validate"]


@dataclass(frozen=True)
class Given:
    lab: Lab
    point: str
    to_time: datetime


def _sql(lab: Lab, node: str, query: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    ip = lab.settings.primary_ip if node == "primary" else lab.settings.standby_ip
    with connect(ip.exploded, lab.settings.pg_port, user="crmdr", password=lab.password, dbname="crm") as conn:
        return list(conn.execute(query, params).fetchall())


def _archived(lab: Lab, segment: str) -> bool:
    listed = crmdr("backup", "list", "--inventory", str(lab.inventory_path), "--json")
    return json.loads(listed.stdout)["wal"]["last"] >= segment


@pytest.fixture(scope="module")
def given() -> Iterator[Given]:
    lab = start_lab(4, rows=50)
    try:
        assert crmdr("backup", "wal", "install", "--inventory", str(lab.inventory_path)).returncode == 0
        backup = crmdr("backup", "run", "--kind", "physical", "--inventory", str(lab.inventory_path), "--json")
        assert backup.returncode == 0, backup.stderr
        _sql(lab, "primary", "INSERT INTO crmdr_probe (id, writer) VALUES (%s, 'before T') RETURNING id", (BEFORE,))
        to_time = _sql(lab, "primary", "SELECT now()")[0][0]
        _sql(lab, "primary", "INSERT INTO crmdr_probe (id, writer) VALUES (%s, 'after T') RETURNING id", (AFTER,))
        segment = _sql(lab, "primary", "SELECT pg_walfile_name(pg_switch_wal())")[0][0]
        for attempt in Retrying(stop=stop_after_delay(60), wait=wait_fixed(0.3), reraise=True):
            with attempt:
                assert _archived(lab, segment)
        yield Given(lab, json.loads(backup.stdout)["id"], to_time)
    finally:
        stop_lab(lab.dir)


def _untouched(lab: Lab) -> dict[str, Any]:
    cloud = cloud_state(lab)
    return {"files": role_files(lab), "hosts": sorted(p.name for p in (lab.dir / "hosts").glob("*/*")),
            "dns": cloud["dns"], "lock": cloud["lock"],
            "objects": [key for key in cloud["objects"] if "/wal/" not in key]}


def test_dry_run_prints_the_plan_and_changes_nothing(given: Given, tmp_path: Path) -> None:
    before = _untouched(given.lab)

    done = run(given.lab, "restore", tmp_path, "--latest", "--to-time", given.to_time.isoformat(),
               "--target", "standby", "--dry-run")

    assert done.returncode == 0, done.stderr
    assert "restore plan:" in done.stdout and "dry run: nothing was changed" in done.stdout
    assert f"fetch, verify and extract {given.point}" in done.stdout
    assert all(f" {step} " in done.stdout for step in STEPS)
    assert _untouched(given.lab) == before
    assert list(tmp_path.iterdir()) == []  # no journal
    assert _sql(given.lab, "standby", "SELECT pg_is_in_recovery()") == [(True,)]


def test_a_running_primary_is_refused_and_left_running(given: Given, tmp_path: Path) -> None:
    before = _untouched(given.lab)

    done = run(given.lab, "restore", tmp_path, "--latest", "--target", "primary", "--yes")

    assert done.returncode == 3, done.stdout + done.stderr
    assert "refusing to restore a recovery point on primary: it is a running primary" in done.stderr
    assert _sql(given.lab, "primary", "SELECT pg_is_in_recovery(), count(*) FROM crmdr_probe WHERE id IN (%s, %s)",
                (BEFORE, AFTER)) == [(False, 2)]
    assert _untouched(given.lab) == before
    assert list(tmp_path.iterdir()) == []


def test_restore_to_a_time_onto_the_standby(given: Given, tmp_path: Path) -> None:
    """WHEN restored to T, THEN the standby is a primary on a new timeline holding what was committed by T."""
    done = run(given.lab, "restore", tmp_path, "--latest", "--to-time", given.to_time.isoformat(),
               "--target", "standby", "--yes", "--json")

    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    evidence = result["evidence"]
    assert result["status"] == "succeeded" and "DNS was NOT moved" in result["message"]
    assert evidence["point"] == given.point and evidence["target_time"] == given.to_time.isoformat()
    assert evidence["timeline"] >= 2 and evidence["restored_lsn"] and evidence["restore_seconds"] > 0
    probe = "SELECT pg_is_in_recovery(), array_agg(id ORDER BY id) FROM crmdr_probe WHERE id IN (%s, %s)"
    assert _sql(given.lab, "standby", probe, (BEFORE, AFTER)) == [(False, [BEFORE])]
    timeline = _sql(given.lab, "standby", "SELECT pg_walfile_name(pg_current_wal_lsn())")[0][0][:8]
    assert int(timeline, 16) == evidence["timeline"]
    assert _sql(given.lab, "primary", probe, (BEFORE, AFTER)) == [(False, [BEFORE, AFTER])]  # untouched
    assert Path(evidence["kept_aside"]).is_dir()
    events = [json.loads(line) for line in next(tmp_path.glob("*.jsonl")).read_text().splitlines()]
    done_steps = [e["step"] for e in events if e["status"] == "succeeded" and e["step"] in STEPS]
    assert done_steps == STEPS
    assert events[-1]["step"] == "run" and events[-1]["status"] == "succeeded"


def test_a_crashed_restore_resumes_to_the_end_of_the_archive(given: Given, tmp_path: Path) -> None:
    """GIVEN the standby stopped, WHEN a restore without --to-time crashes once the point is extracted
    and is resumed, THEN it converges without fetching again, to the end of the archived WAL."""
    lab = given.lab
    stop(LabPaths(lab.dir), "standby", Path(lab.inventory.database.standby.bin_dir))  # type: ignore[union-attr]

    crashed = run(lab, "restore", tmp_path, "--id", given.point, "--target", "standby", "--yes",
                  env={"CRMDR_TEST_CRASH_AT": "fetch"})
    run_id = next(tmp_path.glob("*.jsonl")).stem
    resumed = run(lab, "restore", tmp_path, "--resume", run_id, "--yes", "--json")

    assert crashed.returncode == 137, crashed.stderr
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads(resumed.stdout)["evidence"]["target_time"] is None
    fetch = [e.status for e in read_events(run_id, tmp_path) if e.step == "fetch"]
    assert fetch == ["started", "skipped"]  # extracted once; the resume's check found it done
    probe = "SELECT pg_is_in_recovery(), array_agg(id ORDER BY id) FROM crmdr_probe WHERE id IN (%s, %s)"
    assert _sql(lab, "standby", probe, (BEFORE, AFTER)) == [(False, [BEFORE, AFTER])]
