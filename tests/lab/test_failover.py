"""crmdr failover in the real lab: fenced, journaled, locked, resumable, a no-op when done."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from drills.failover.probe import ProbeSettings, WriteProbe, committed_ids
from drills.lab import postgres, sshd
from drills.lab.settings import LabPaths
from drills.lab.system import pg_bin_dir
from recovery.adapters.aws_session import client
from recovery.adapters.postgres import connect
from recovery.adapters.route53_dns import Route53Dns
from recovery.adapters.s3_store import S3ObjectStore
from recovery.runbooks.journal.files import read_events
from tests.conftest import ROOT, crmdr
from tests.lab.conftest import Lab
from tests.lab.runbook_helpers import cloud_state, only_run, result, role_files, roles, run, write_through_name

pytestmark = pytest.mark.lab

FAILOVER_STEPS = ("fence", "promote", "accept-writes", "dns", "validate")


def _subscribe(lab: Lab) -> str:
    """An SQS queue on the notice topic, to read what people would have been told."""
    inv = lab.inventory
    sqs = client(inv.aws, "sqs", inv.regions.dr)
    url = sqs.create_queue(QueueName=f"notices-{time.time_ns()}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    client(inv.aws, "sns", inv.regions.dr).subscribe(TopicArn=inv.notify.topic_arn, Protocol="sqs", Endpoint=arn)
    return url


def _notices(lab: Lab, url: str) -> list[str]:
    sqs = client(lab.inventory.aws, "sqs", lab.inventory.regions.dr)
    found: list[str] = []
    while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        found += [json.loads(m["Body"])["Subject"] for m in batch]
    return found


def test_failover_promotes_standby_moves_name_and_journals_every_step(fresh_lab: Lab, tmp_path: Path) -> None:
    queue = _subscribe(fresh_lab)

    done = result(run(fresh_lab, "failover", tmp_path, "--yes", "--drill", "--json"))

    assert roles(fresh_lab) == {"primary": "down", "standby": "primary"}
    assert Route53Dns(fresh_lab.inventory).resolve() == str(fresh_lab.settings.standby_ip)
    assert write_through_name(fresh_lab, 4242) == str(fresh_lab.settings.standby_ip)
    events = only_run(tmp_path)
    finished = {e.step for e in events if e.status in ("succeeded", "skipped")}
    assert {"preflight", "lock", *FAILOVER_STEPS, "run"} <= finished
    assert all(e.drill for e in events)
    assert set(done["phases"]) == {"detect", "decide", "fence", "promote", "dns", "validate"}
    mirrored = S3ObjectStore(fresh_lab.inventory).get_bytes(f"runs/{done['run_id']}.jsonl")
    assert mirrored == Path(done["journal"]).read_bytes()
    subjects = _notices(fresh_lab, queue)
    assert subjects[0] == "[DRILL] crmdr failover lab: started" and subjects[-1] == "[DRILL] crmdr failover lab: done"
    assert fresh_lab.password not in Path(done["journal"]).read_text()

    again = run(fresh_lab, "failover", tmp_path, "--yes")
    assert again.returncode == 0 and "nothing to do" in again.stdout
    assert len(list(tmp_path.glob("*.jsonl"))) == 1, "a no-op run journals nothing"


def test_old_primary_brought_back_cannot_take_writes_and_is_not_promoted(fresh_lab: Lab, tmp_path: Path) -> None:
    result(run(fresh_lab, "failover", tmp_path, "--yes", "--json"))
    paths, settings = LabPaths(fresh_lab.dir), fresh_lab.settings

    postgres.start(paths, "primary", str(settings.primary_ip), settings.pg_port, pg_bin_dir())

    assert roles(fresh_lab) == {"primary": "standby", "standby": "primary"}
    db = fresh_lab.inventory.database
    with connect(str(settings.primary_ip), settings.pg_port, user=db.user, password=fresh_lab.password,
                 dbname=db.name) as conn, pytest.raises(Exception, match="read-only"):
        conn.execute("INSERT INTO crmdr_probe (id, writer) VALUES (1, 'split-brain')")
    assert write_through_name(fresh_lab, 777) == str(settings.standby_ip)
    again = run(fresh_lab, "failover", tmp_path, "--yes")
    assert again.returncode == 0 and "nothing to do" in again.stdout
    assert roles(fresh_lab) == {"primary": "standby", "standby": "primary"}


@pytest.mark.lab_settings(synchronous=True)
@pytest.mark.parametrize("step", FAILOVER_STEPS)
def test_crash_at_each_step_then_resume_converges(fresh_lab: Lab, tmp_path: Path, step: str) -> None:
    probe = WriteProbe(fresh_lab.inventory, ProbeSettings(rate=40))
    probe.start()
    crashed = run(fresh_lab, "failover", tmp_path, "--yes", env={"CRMDR_TEST_CRASH_AT": step})
    assert crashed.returncode == 137, crashed.stderr
    run_id = only_run(tmp_path)[0].run

    resumed = run(fresh_lab, "failover", tmp_path, "--yes", "--resume", run_id)
    ledger = probe.stop()

    assert resumed.returncode == 0, resumed.stderr
    assert roles(fresh_lab) == {"primary": "down", "standby": "primary"}
    events = read_events(run_id, tmp_path)
    starts = [e.step for e in events if e.status == "started" and e.step in FAILOVER_STEPS]
    assert len(starts) == len(set(starts)), f"a side effect was repeated: {starts}"
    assert [e.step for e in events if e.step == "run" and e.status == "succeeded"] == ["run"]
    acknowledged = {w.id for w in ledger if w.outcome == "acknowledged"}
    assert acknowledged, "the probe never wrote"
    assert acknowledged <= committed_ids(fresh_lab.inventory, probe.run_writer)


def test_two_failovers_at_once_one_refused_naming_the_holder(fresh_lab: Lab, tmp_path: Path) -> None:
    gate = tmp_path / "go"
    first = subprocess.Popen(
        [sys.executable, "-m", "crmdr", "failover", "--inventory", str(fresh_lab.inventory_path),
         "--journal-dir", str(tmp_path / "a"), "--yes"],
        env={**os.environ, "CRMDR_TEST_HOLD_AT": f"fence:{gate}"}, cwd=ROOT,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not any('"lock"' in f.read_text() for f in (tmp_path / "a").glob("*.jsonl")):
            assert first.poll() is None and time.monotonic() < deadline, "first failover never took the lock"
            time.sleep(0.05)
        second = run(fresh_lab, "failover", tmp_path / "b", "--yes")
    finally:
        gate.touch()
        _out, err = first.communicate(timeout=120)

    assert second.returncode == 3
    assert "another recovery holds the lock" in second.stderr and f"pid {first.pid}" in second.stderr
    assert not list((tmp_path / "b").glob("*.jsonl")), "the refused run changed nothing"
    assert first.returncode == 0, err
    assert roles(fresh_lab) == {"primary": "down", "standby": "primary"}


def test_unreachable_old_primary_is_refused_unless_forced(fresh_lab: Lab, tmp_path: Path) -> None:
    """Without database.isolation (older inventories) nothing can fence an unreachable primary."""
    data = json.loads(fresh_lab.inventory_path.read_text())
    del data["database"]["isolation"]
    inventory = tmp_path / "inventory.json"
    inventory.write_text(json.dumps(data))
    sshd.stop(LabPaths(fresh_lab.dir), "primary")

    def failover(*args: str) -> subprocess.CompletedProcess[str]:
        return crmdr("failover", "--inventory", str(inventory), "--journal-dir", str(tmp_path), *args)

    refused = failover("--yes")
    assert refused.returncode == 3 and "--force-unfenced" in refused.stderr
    assert roles(fresh_lab)["standby"] == "standby"

    forced = result(failover("--yes", "--force-unfenced", "--json"))
    fence = [e for e in read_events(forced["run_id"], tmp_path) if e.step == "fence" and e.status == "succeeded"]
    assert "NOT FENCED" in fence[0].evidence
    assert roles(fresh_lab)["standby"] == "primary"


def test_dry_run_changes_nothing(shared_lab: Lab, tmp_path: Path) -> None:
    before = (roles(shared_lab), role_files(shared_lab), cloud_state(shared_lab))

    plan = run(shared_lab, "failover", tmp_path, "--dry-run")

    assert plan.returncode == 0, plan.stderr
    assert "TO DO fence" in plan.stdout and "dry run: nothing was changed" in plan.stdout
    assert (roles(shared_lab), role_files(shared_lab), cloud_state(shared_lab)) == before
    assert not tmp_path.exists() or not list(tmp_path.iterdir())


def test_no_terminal_and_no_yes_is_refused(shared_lab: Lab, tmp_path: Path) -> None:
    refused = run(shared_lab, "failover", tmp_path)
    assert refused.returncode == 3 and "--yes" in refused.stderr
    assert roles(shared_lab) == {"primary": "primary", "standby": "standby"}


def test_changed_host_key_stops_before_any_step(shared_lab: Lab, tmp_path: Path) -> None:
    data = json.loads(shared_lab.inventory_path.read_text())
    standby, primary = data["database"]["standby"], data["database"]["primary"]
    standby["known_hosts"] = standby["known_hosts"].split(" ", 1)[0] + " " + primary["known_hosts"].split(" ", 1)[1]
    changed = tmp_path / "inventory.json"
    changed.write_text(json.dumps(data))
    before = role_files(shared_lab)

    refused = crmdr("failover", "--inventory", str(changed), "--journal-dir", str(tmp_path / "runs"), "--yes")

    assert refused.returncode == 3
    assert "host key" in refused.stderr and "standby" in refused.stderr and "Traceback" not in refused.stderr
    assert not (tmp_path / "runs").exists()
    assert role_files(shared_lab) == before and roles(shared_lab) == {"primary": "primary", "standby": "standby"}

