"""The lab is real: streaming replication, SSH with pinned keys, moto in two regions."""

import json
import os
import shutil
import socket
import subprocess
import sys
import time

import pytest

from drills.lab.system import pid_alive, port_open
from policies.errors import HostKeyMismatch
from recovery.adapters.aws_session import client
from recovery.adapters.fabric_host import FabricHostRunner, run_on_all
from recovery.adapters.postgres import connect
from recovery.adapters.route53_dns import Route53Dns
from tests.conftest import ROOT, crmdr
from tests.lab.conftest import Lab, lab_dir, lab_settings, stop_lab

pytestmark = pytest.mark.lab


def test_status_reports_streaming_replication(shared_lab: Lab) -> None:
    result = crmdr("lab", "status", "--dir", str(shared_lab.dir), "--json")
    assert result.returncode == 0, result.stderr
    status = json.loads(result.stdout)
    assert status["healthy"] is True
    assert status["replication"]["state"] == "streaming"
    roles = {p["part"]: p.get("role") for p in status["parts"]}
    assert roles["PostgreSQL of primary"] == "primary"
    assert roles["PostgreSQL of standby"] == "standby"


def test_row_written_on_primary_appears_on_standby(shared_lab: Lab) -> None:
    db = shared_lab.inventory.database
    marker = time.time_ns()
    with connect(db.primary.host, db.primary.pg_port, user=db.user, password=shared_lab.password,  # type: ignore[union-attr]
                 dbname=db.name) as conn:
        conn.execute("INSERT INTO crmdr_probe (id, writer) VALUES (%s, 'test')", (marker,))
    deadline = time.monotonic() + 10
    with connect(db.standby.host, db.standby.pg_port, user=db.user, password=shared_lab.password,  # type: ignore[union-attr]
                 dbname=db.name) as conn:
        assert conn.execute("SELECT pg_is_in_recovery()").fetchone() == (True,)
        while conn.execute("SELECT 1 FROM crmdr_probe WHERE id = %s", (marker,)).fetchone() is None:
            assert time.monotonic() < deadline, "row never reached the standby"
            time.sleep(0.02)


def test_crm_data_is_deterministic_and_consistent(shared_lab: Lab) -> None:
    db = shared_lab.inventory.database
    with connect(db.primary.host, db.primary.pg_port, user=db.user, password=shared_lab.password,  # type: ignore[union-attr]
                 dbname=db.name) as conn:
        counts = conn.execute(
            "SELECT (SELECT count(*) FROM accounts), (SELECT count(*) FROM contacts), "
            "(SELECT count(*) FROM opportunities), (SELECT count(*) FROM cases), "
            "(SELECT count(*) FROM activities)"
        ).fetchone()
        orphans = conn.execute(
            "SELECT count(*) FROM contacts c LEFT JOIN accounts a ON a.id = c.account_id WHERE a.id IS NULL"
        ).fetchone()
    assert counts == (100, 300, 200, 100, 500)
    assert orphans == (0,)


def test_fabric_runs_a_command_on_both_hosts(shared_lab: Lab) -> None:
    inventory = shared_lab.inventory
    runners = [FabricHostRunner(node, inventory.ssh) for node in inventory.database.nodes()]  # type: ignore[arg-type]
    results = run_on_all(runners, "test -f $PGDATA_MARK || true; id -un")
    assert set(results) == {"primary", "standby"}
    for result in results.values():
        assert not isinstance(result, Exception), result
        assert result.ok and result.stdout.strip()


def test_wrong_host_key_is_refused(shared_lab: Lab) -> None:
    db = shared_lab.inventory.database
    primary, standby = db.primary, db.standby
    foreign_key = standby.known_hosts.split(" ", 1)[1]  # type: ignore[union-attr]
    wrong = primary.model_copy(update={"known_hosts": f"{primary.known_hosts_name} {foreign_key}"})  # type: ignore[union-attr]
    with pytest.raises(HostKeyMismatch) as caught:
        FabricHostRunner(wrong, shared_lab.inventory.ssh).run("touch /tmp/should-not-run")  # type: ignore[arg-type]
    assert caught.value.exit_code == 3
    assert "primary" in str(caught.value)


def test_moto_answers_in_both_regions_and_bucket_is_locked(shared_lab: Lab) -> None:
    inventory = shared_lab.inventory
    for region in (inventory.regions.primary, inventory.regions.dr):
        assert client(inventory.aws, "sts", region).get_caller_identity()["Account"]
    s3 = client(inventory.aws, "s3", inventory.regions.dr)
    lock = s3.get_object_lock_configuration(Bucket=inventory.backup.bucket)["ObjectLockConfiguration"]
    assert lock["ObjectLockEnabled"] == "Enabled"
    assert s3.get_bucket_versioning(Bucket=inventory.backup.bucket)["Status"] == "Enabled"
    rule = s3.get_bucket_encryption(Bucket=inventory.backup.bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    assert s3.get_bucket_location(Bucket=inventory.backup.bucket)["LocationConstraint"] == inventory.regions.dr
    table = client(inventory.aws, "dynamodb", inventory.regions.dr).describe_table(TableName=inventory.lock.table)
    assert table["Table"]["TableStatus"] == "ACTIVE"


def test_dns_name_has_failover_records_and_resolves_to_primary(shared_lab: Lab) -> None:
    dns = Route53Dns(shared_lab.inventory)
    records = dns.records()
    assert set(records) == {"PRIMARY", "SECONDARY"}
    assert all(record["TTL"] <= 60 for record in records.values())
    assert dns.resolve() == str(shared_lab.settings.primary_ip)


def test_up_is_idempotent_and_other_settings_are_refused(shared_lab: Lab) -> None:
    s = shared_lab.settings
    args = ["lab", "up", "--dir", str(shared_lab.dir), "--rows", "100", "--primary-ip", str(s.primary_ip),
            "--standby-ip", str(s.standby_ip), "--aws-ip", str(s.aws_ip), "--app-ip", "", "--json"]
    again = crmdr(*args)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["stack"] == "lab"
    other = crmdr(*args[:-1], "--rows", "101")
    assert other.returncode == 2
    assert "rows=100 (running) vs 101" in other.stderr
    assert "Traceback" not in other.stderr


def test_taken_port_is_a_clear_error() -> None:
    settings = lab_settings(3)
    directory = lab_dir()
    blocker = socket.socket()
    blocker.bind((str(settings.primary_ip), settings.ssh_port))
    blocker.listen()
    try:
        result = crmdr("lab", "up", "--dir", str(directory), "--primary-ip", str(settings.primary_ip),
                       "--standby-ip", str(settings.standby_ip), "--aws-ip", str(settings.aws_ip))
        assert result.returncode == 2
        assert f"{settings.primary_ip}:{settings.ssh_port}" in result.stderr
        assert "Traceback" not in result.stderr
        assert not (directory / "hosts").exists(), "a refused up changed nothing"
    finally:
        blocker.close()
        stop_lab(directory)


def test_missing_postgresql_binaries_is_a_clear_error(tmp_path) -> None:
    result = crmdr("lab", "up", "--dir", str(tmp_path / "lab"), env={"CRMDR_PG_BIN": str(tmp_path)})
    assert result.returncode == 2
    assert "initdb" in result.stderr and "Traceback" not in result.stderr


def test_down_leaves_no_process_and_no_port() -> None:
    settings = lab_settings(4, rows=10)
    directory = lab_dir()
    try:
        up = crmdr("lab", "up", "--dir", str(directory), "--rows", "10", "--primary-ip", str(settings.primary_ip),
                   "--standby-ip", str(settings.standby_ip), "--aws-ip", str(settings.aws_ip))
        assert up.returncode == 0, up.stderr
        status = json.loads(crmdr("lab", "status", "--dir", str(directory), "--json").stdout)
        pids = [part["pid"] for part in status["parts"] if part.get("pid")]
        assert len(pids) == 9 and all(pid_alive(pid) for pid in pids), \
            "moto, DNS, 2 PostgreSQL, 3 sshd (app host), the intake service, the status page server"
        down = crmdr("lab", "down", "--dir", str(directory))
        assert down.returncode == 0, down.stderr
        assert not any(pid_alive(pid) for pid in pids)
        for ip, port in ((settings.aws_ip, settings.aws_port), (settings.aws_ip, settings.dns_port),
                         (settings.primary_ip, settings.pg_port),
                         (settings.primary_ip, settings.ssh_port), (settings.standby_ip, settings.pg_port),
                         (settings.standby_ip, settings.ssh_port), (settings.standby_ip + 1, settings.ssh_port),
                         (settings.intake_ip, 8080)):
            assert not port_open(str(ip), port), f"{ip}:{port} still listening"
    finally:
        stop_lab(directory)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to create the normal user it runs as")
def test_lab_works_as_a_normal_user() -> None:
    """As a normal user, PostgreSQL, sshd and the SSH login all run as that user."""
    user = "crmdr-test-user"
    if subprocess.run(["id", user], capture_output=True).returncode != 0:
        subprocess.run(["useradd", "--create-home", "--shell", "/bin/sh", user], check=True)
    settings = lab_settings(5, rows=10)
    directory = lab_dir()
    shutil.chown(directory, user=user)
    script = (
        f"{sys.executable} -m crmdr lab up --dir {directory} --rows 10 --primary-ip {settings.primary_ip} "
        f"--standby-ip {settings.standby_ip} --aws-ip {settings.aws_ip} && "
        f"{sys.executable} -m crmdr lab status --dir {directory} --json; "
        f"rc=$?; {sys.executable} -m crmdr lab down --dir {directory}; exit $rc"
    )
    try:
        done = subprocess.run(["runuser", "-u", user, "--", "sh", "-c", script], capture_output=True, text=True,
                              cwd=ROOT, timeout=300)
        assert done.returncode == 0, done.stderr
        status, _ = json.JSONDecoder().raw_decode(done.stdout[done.stdout.index("{"):])
        assert status["healthy"] and status["replication"]["state"] == "streaming"
        owner = (directory / "hosts" / "primary" / "pgdata").owner()
        assert owner == user
    finally:
        stop_lab(directory)
