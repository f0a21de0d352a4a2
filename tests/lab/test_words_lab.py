"""Words and progress on a real lab: step lines with durations, each label said once, failback's own
phase, and `lab status` warning when two primaries run."""

import json
import re
from pathlib import Path

import pytest

from drills.lab import postgres
from recovery.adapters.postgres import connect
from tests.conftest import crmdr
from tests.lab.conftest import NET, Lab

pytestmark = [pytest.mark.lab, pytest.mark.slow]

STEP_LINE = re.compile(r"^… ([\w-]+): (succeeded|skipped) \((\d+\.\d) s\)$", re.M)


def evidence(journal: str, step: str) -> str:
    events = [json.loads(line) for line in Path(journal).read_text().splitlines()]
    return next(str(e["evidence"]) for e in events if e["step"] == step and e["status"] == "succeeded")


@pytest.mark.lab_settings(app_ip=f"127.0.{NET}.23")
def test_step_durations_labels_once_failback_phase_and_two_primaries(fresh_lab: Lab, tmp_path: Path) -> None:
    inv, runs = str(fresh_lab.inventory_path), str(tmp_path / "runs")
    quiet = crmdr("lab", "status", "--dir", str(fresh_lab.dir))
    assert quiet.returncode == 0 and "WARNING" not in quiet.stdout, quiet.stdout

    over = crmdr("failover", "--yes", "--inventory", inv, "--journal-dir", runs)
    assert over.returncode == 0, over.stdout + over.stderr
    steps = {name for name, _, _ in STEP_LINE.findall(over.stdout)}
    assert {"fence", "promote", "dns", "app-hosts", "validate"} <= steps, over.stdout
    journal = re.search(r"journal: (\S+)", over.stdout).group(1)  # type: ignore[union-attr]
    apps = evidence(journal, "app-hosts")
    assert apps.count("->") == 1, apps

    back = crmdr("failback", "--yes", "--inventory", inv, "--journal-dir", runs, "--json")
    assert back.returncode == 0, back.stdout + back.stderr
    result = json.loads(back.stdout)
    phases = result["phases"]
    assert "rebuild" in phases and phases["rebuild"]["end"] <= phases["fence"]["start"], phases
    rebuilt = evidence(result["journal"], "rebuild")
    assert "pg_rewind: pg_rewind" not in rebuilt and "pg_rewind" in rebuilt, rebuilt

    with connect(str(fresh_lab.settings.standby_ip), fresh_lab.settings.pg_port, user=postgres.DB_USER,
                 password=fresh_lab.password, dbname="postgres") as conn:
        conn.execute("SELECT pg_promote()")
    split = crmdr("lab", "status", "--dir", str(fresh_lab.dir), "--json")
    assert split.returncode == 1
    warnings = json.loads(split.stdout)["warnings"]
    assert len(warnings) == 1 and warnings[0].startswith("two primaries run: PostgreSQL of primary"), warnings
    shown = crmdr("lab", "status", "--dir", str(fresh_lab.dir)).stdout
    assert "WARNING two primaries run" in shown
