"""Interrupted backups leave orphans that are shown and pruned; an interrupted restore, re-run, names the
host's own data; the restored host becomes a standby again with one command.

One lab (slot 5) for one story, in order. Holds, of issue 12's Why: "Interrupted backup" (an
orphan nobody sees; an interrupted `backup run` left its upload), "Ctrl-C" for `backup run` and
`restore` (exit 130 silently), "Interrupted restore, re-run" (the half-restored directory called
"previous data") and "After restore --target standby" (no way back; a silent 60 s wait).
"""

import json
import signal
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from recovery.adapters.aws_session import client
from recovery.runbooks.journal.files import read_events
from tests.conftest import crmdr
from tests.lab.conftest import Lab, start_lab, stop_lab
from tests.lab.pause import open_uploads, start, start_backup_with_open_upload, wait_file
from tests.lab.runbook_helpers import roles, run

pytestmark = [pytest.mark.lab, pytest.mark.slow]


def _listed(lab: Lab) -> dict[str, Any]:
    listed = crmdr("backup", "list", "--json", "--inventory", str(lab.inventory_path))
    assert listed.returncode in (0, 1), listed.stderr
    data: dict[str, Any] = json.loads(listed.stdout)
    return data


def _prune(lab: Lab) -> dict[str, str]:
    pruned = crmdr("backup", "prune", "--orphan-grace", "0s", "--json", "--inventory", str(lab.inventory_path))
    assert pruned.returncode in (0, 1), pruned.stderr
    orphans: dict[str, str] = json.loads(pruned.stdout)["orphans"]
    return orphans


@pytest.fixture(scope="module")
def lab() -> Any:
    lab = start_lab(5, rows=50)
    try:
        assert crmdr("backup", "wal", "install", "--inventory", str(lab.inventory_path)).returncode == 0
        yield lab
    finally:
        stop_lab(lab.dir)


def test_interrupted_backups_abort_or_leave_orphans_that_list_shows_and_prune_removes(lab: Lab,
                                                                                       tmp_path: Path) -> None:
    # SIGINT mid-stream: one line, exit 130, the multipart upload aborted, no point recorded
    process = start_backup_with_open_upload(lab, tmp_path / "a", "--kind", "physical")
    process.send_signal(signal.SIGINT)
    (tmp_path / "a").touch()
    _out, err = process.communicate(timeout=180)
    assert process.returncode == 130, err
    assert "backup run interrupted by SIGINT" in err and "Traceback" not in err, err
    assert open_uploads(lab.inventory) == [], "the interrupted backup left its multipart upload"
    assert _listed(lab)["points"] == [] and _listed(lab)["orphans"] == []

    # a process killed outright (SIGKILL) cannot abort: its open upload (made here with boto3, as the
    # killed process left it) is an orphan that list shows with its size, and prune aborts it
    inv = lab.inventory
    s3 = client(inv.aws, "s3", inv.backup.region)
    left = f"{inv.backup.prefix}points/20260101T000000Z-physical-killed/base.tar"
    upload_id = s3.create_multipart_upload(Bucket=inv.backup.bucket, Key=left)["UploadId"]
    s3.upload_part(Bucket=inv.backup.bucket, Key=left, UploadId=upload_id, PartNumber=1, Body=b"y" * 5242880)
    (upload,) = _listed(lab)["orphans"]
    assert upload["kind"] == "upload" and upload["size"] == 5242880 and upload["key"].endswith("killed/base.tar")

    # an object without a manifest (an upload completed, the manifest never written), locked 20 s
    key = f"{inv.backup.prefix}points/20260101T000000Z-physical-orphan/base.tar"
    until = datetime.now(UTC) + timedelta(seconds=20)
    client(inv.aws, "s3", inv.backup.region).put_object(
        Bucket=inv.backup.bucket, Key=key, Body=b"x" * 4096, ObjectLockMode="GOVERNANCE",  # as take.py locks
        ObjectLockRetainUntilDate=until)
    orphans = {o["kind"]: o for o in _listed(lab)["orphans"]}
    assert orphans["object"]["size"] == 4096 and orphans["object"]["retain_until"], orphans

    first = _prune(lab)
    assert any(outcome == "aborted" for outcome in first.values()), first
    kept = [outcome for what, outcome in first.items() if "orphan/base.tar" in what]
    assert kept and kept[0].startswith("kept until") and "Object Lock" in kept[0], first
    time.sleep(max(0.0, (until - datetime.now(UTC)).total_seconds()) + 1)
    second = _prune(lab)
    assert [outcome for what, outcome in second.items() if "orphan/base.tar" in what] == ["deleted"], second
    assert _listed(lab)["orphans"] == [] and open_uploads(lab.inventory) == []


def test_interrupted_restore_rerun_names_the_hosts_own_data_and_one_command_makes_it_a_standby(
        lab: Lab, tmp_path: Path) -> None:
    backup = crmdr("backup", "run", "--kind", "physical", "--json", "--inventory", str(lab.inventory_path))
    assert backup.returncode == 0, backup.stderr
    journal = tmp_path / "runs"
    gate = tmp_path / "g"
    process = start(lab.inventory_path, {"CRMDR_TEST_HOLD_AT": f"configure:{gate}"}, "restore", "--latest", "--target",
                     "standby", "--yes", "--journal-dir", str(journal))
    wait_file(Path(f"{gate}.held"), process, 180)
    process.send_signal(signal.SIGTERM)
    _out, err = process.communicate(timeout=120)
    (first_journal,) = journal.glob("restore-*.jsonl")
    first = first_journal.stem
    assert process.returncode == 143, err
    assert f"interrupted by SIGTERM at step configure (run {first})" in err and f"--resume {first}" in err, err
    assert read_events(first, journal)[-1].status == "aborted"

    plain = run(lab, "restore", journal, "--latest", "--target", "standby", "--yes")
    assert plain.returncode == 3 and f"--resume {first}" in plain.stderr, plain.stderr

    again = run(lab, "restore", journal, "--latest", "--target", "standby", "--yes", "--discard", first, "--json")
    assert again.returncode == 0, again.stderr
    result = json.loads(again.stdout)
    original = Path(result["evidence"]["original_data"])
    remains = Path(result["evidence"]["kept_aside"])
    assert original.name.endswith(f"crmdr-before-{first}"), original
    assert str(original) in result["message"] and "before the first restore" in result["message"]
    assert (original / "standby.signal").exists(), "the standby's own data directory is the one named"
    assert not (remains / "standby.signal").exists() and remains != original
    assert roles(lab)["standby"] == "primary"  # a standalone restored primary; the primary untouched

    back = run(lab, "failback", journal, "--to", "primary", "--yes", "--json")
    assert back.returncode == 0, back.stderr
    assert roles(lab) == {"primary": "primary", "standby": "standby"}
    rejoin = [e for e in read_events(json.loads(back.stdout)["run_id"], journal)
              if e.step == "rejoin" and e.status == "succeeded"]
    assert "timeline" in rejoin[0].evidence, rejoin
