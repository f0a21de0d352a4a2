"""Judging on a real lab: the strongest proof kept, unknown ids are bad input, parts asked live,
and a failover journals the tier's synchronous-replication requirement against what it measured."""

import json
from pathlib import Path

import pytest

from tests.conftest import crmdr
from tests.lab.conftest import Lab

pytestmark = [pytest.mark.lab, pytest.mark.slow]


def test_proof_ids_live_parts_and_the_sync_requirement(fresh_lab: Lab, tmp_path: Path) -> None:
    inv = str(fresh_lab.inventory_path)
    taken = crmdr("backup", "run", "--inventory", inv, "--json")
    assert taken.returncode == 0, taken.stderr
    point = json.loads(taken.stdout)  # every key relative to the one prefix it names
    assert point["prefix"] == fresh_lab.inventory.backup.prefix and point["bucket"] == fresh_lab.inventory.backup.bucket
    assert point["manifest"] == f"points/{point['id']}/manifest.json"
    assert all(o["key"].startswith(f"points/{point['id']}/") for o in point["objects"]), point["objects"]
    assert crmdr("backup", "verify", "--latest", "--restore", "--inventory", inv).returncode == 0
    assert crmdr("backup", "verify", "--latest", "--inventory", inv).returncode == 0
    listed = json.loads(crmdr("backup", "list", "--inventory", inv, "--json").stdout)
    assert [(p["state"], p["restored"]) for p in listed["points"]] == [("restored+validated", True)]

    for command in (("backup", "verify", "--id", "nosuch"), ("restore", "--id", "nosuch", "--target", "standby",
                                                             "--yes")):
        missing = crmdr(*command, "--inventory", inv)
        assert missing.returncode == 2, (command, missing.stdout, missing.stderr)
        assert "no recovery point 'nosuch'" in missing.stderr

    live = crmdr("inventory", "check", "--live", "--inventory", inv, "--json")
    assert live.returncode == 0, live.stdout + live.stderr
    parts = json.loads(live.stdout)["parts"]
    assert len(parts) == 5 and all(p["answered"] for p in parts), parts
    assert {p["detail"] for p in parts} >= {"primary", "standby (in recovery)"}
    broken = tmp_path / "broken.json"
    data = json.loads(fresh_lab.inventory_path.read_text())
    data["lock"]["table"] = "no-such-table"
    broken.write_text(json.dumps(data))
    failed = crmdr("inventory", "check", "--live", "--inventory", str(broken))
    assert failed.returncode == 1 and "✘ lock table no-such-table" in failed.stdout, failed.stdout + failed.stderr

    done = crmdr("failover", "--yes", "--inventory", inv, "--journal-dir", str(tmp_path / "runs"), "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    journal = Path(json.loads(done.stdout)["journal"]).read_text().splitlines()
    preflight = next(json.loads(line) for line in journal
                     if '"preflight"' in line and '"succeeded"' in line)
    assert "synchronous replication required by the tier, measured false (sync_state 'async')" in str(
        preflight["evidence"]), preflight
