"""A canary secret, planted as the lab's database password, appears nowhere crmdr writes or says.

GIVEN a fresh lab whose database password is a unique canary (set as a SCRAM verifier, so even
PostgreSQL's own statement log could not hold it), WHEN the SRE commands run (most with --debug,
which logs every library at DEBUG and prints tracebacks), THEN the canary is in no file under
the lab, report, journal, scratch or work directory (the secret file itself excepted), in no
object version of any bucket, in no lock item, in no stdout or stderr, and in no exception text.
What the commands wrote (reports, the drill's journals) and the lab's secrets are private.
"""

import json
import secrets
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from psycopg import sql

from policies.errors import HostError
from recovery.adapters.aws_session import client
from recovery.adapters.fabric_host import FabricHostRunner
from recovery.adapters.postgres import connect
from tests.conftest import crmdr
from tests.lab.conftest import Lab

pytestmark = [pytest.mark.lab, pytest.mark.slow]


def plant_canary(lab: Lab) -> str:
    """The database password becomes the canary: role altered by verifier, secret file rewritten."""
    canary = f"crmdrCANARY{secrets.token_hex(12)}"
    db = lab.inventory.database
    with connect(str(lab.settings.primary_ip), lab.settings.pg_port, user=db.user, password=lab.password,
                 dbname="postgres") as conn:
        verifier = conn.pgconn.encrypt_password(canary.encode(), db.user.encode(), b"scram-sha-256").decode()
        conn.execute(sql.SQL("ALTER ROLE {} PASSWORD {}").format(sql.Identifier(db.user), sql.Literal(verifier)))
    (lab.dir / "secrets" / "db_password").write_text(canary)
    assert lab.password == canary
    return canary


def files_under(*roots: Path, skip: frozenset[Path] = frozenset()) -> Iterator[Path]:
    for root in roots:
        for path in sorted(root.rglob("*")):
            if path.is_file() and not path.is_symlink() and path not in skip:
                yield path


def bucket_blobs(lab: Lab) -> Iterator[tuple[str, bytes]]:
    """Every version of every object in every bucket of the lab's moto server, and the lock items."""
    s3 = client(lab.inventory.aws, "s3", lab.inventory.backup.region)
    for bucket in (b["Name"] for b in s3.list_buckets()["Buckets"]):
        for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
            for version in page.get("Versions", []):
                body = s3.get_object(Bucket=bucket, Key=version["Key"], VersionId=version["VersionId"])["Body"]
                yield f"s3://{bucket}/{version['Key']}?versionId={version['VersionId']}", body.read()
    dynamo = client(lab.inventory.aws, "dynamodb", lab.inventory.lock.region)
    for item in dynamo.scan(TableName=lab.inventory.lock.table)["Items"]:
        yield f"dynamodb://{lab.inventory.lock.table}", json.dumps(item).encode()


def sre_commands(lab: Lab, work: Path) -> list[tuple[str, list[str], set[int]]]:
    """(name, argv, accepted exit codes): the commands an SRE runs, plus two that fail."""
    inventory = ["--inventory", str(lab.inventory_path)]
    wrong_db = json.loads(lab.inventory_path.read_text())
    wrong_db["database"]["name"] = "no_such_database"
    (work / "wrong-db.json").write_text(json.dumps(wrong_db))
    return [
        ("backup wal install", ["--debug", "backup", "wal", "install", *inventory], {0}),
        ("backup run", ["--debug", "backup", "run", *inventory, "--json"], {0}),
        ("backup list", ["backup", "list", *inventory], {0, 1}),
        ("backup verify --restore", ["--debug", "backup", "verify", "--latest", "--restore", *inventory], {0}),
        ("failover --dry-run", ["--debug", "failover", "--dry-run", *inventory], {0, 1, 3}),
        ("failover --dry-run --to nowhere", ["--debug", "failover", "--dry-run", "--to", "nowhere", *inventory],
         {2}),
        ("drill run --type failover", ["--debug", "drill", "run", "--type", "failover", "--scenario", "crash",
                                       "--out", str(work / "reports"), *inventory, "--json"], {0, 1}),
        ("backup run (wrong database)", ["--debug", "backup", "run", "--inventory", str(work / "wrong-db.json")],
         {1, 2}),
    ]


def exception_texts(lab: Lab, canary: str) -> list[str]:
    """Errors raised in-process by the adapters that hold the password."""
    texts = []
    with pytest.raises(HostError) as refused, connect(str(lab.settings.primary_ip), 1, password=canary,
                                                     user=lab.inventory.database.user, dbname="postgres"):
        pass
    texts.append(str(refused.value))
    runner = FabricHostRunner(lab.inventory.database.primary, lab.inventory.ssh, secrets=[canary])  # type: ignore[arg-type]
    try:
        with pytest.raises(HostError) as failed:
            runner.run(f"echo {canary}; echo {canary} >&2; exit 3")
        texts.append(str(failed.value))
        shown = runner.run(f"echo {canary}", check=False)
        texts += [shown.command, shown.stdout, shown.stderr]
    finally:
        runner.close()
    return texts


def test_the_canary_password_leaks_nowhere(fresh_lab: Lab, tmp_path: Path) -> None:
    canary = plant_canary(fresh_lab)
    work = tmp_path / "work"
    work.mkdir()
    scratch = fresh_lab.dir / "scratch"
    scratch.mkdir(mode=0o755)
    env = {"CRMDR_JOURNAL_DIR": str(work / "journals"), "CRMDR_SCRATCH_DIR": str(scratch)}
    outputs: dict[str, str] = {}
    for name, argv, accepted in sre_commands(fresh_lab, work):
        done: subprocess.CompletedProcess[str] = crmdr(*argv, env=env, cwd=work)
        assert done.returncode in accepted, f"{name}: exit {done.returncode}\n{done.stderr[-3000:]}"
        outputs[f"{name} (stdout)"], outputs[f"{name} (stderr)"] = done.stdout, done.stderr
    assert "no_such_database" in outputs["backup run (wrong database) (stderr)"]
    assert "DEBUG" in outputs["backup run (stderr)"], "--debug must have logged something to scan"

    secret_file = fresh_lab.dir / "secrets" / "db_password"
    files = list(files_under(fresh_lab.dir, work, skip=frozenset({secret_file})))
    blobs = list(bucket_blobs(fresh_lab))
    texts = exception_texts(fresh_lab, canary)
    journals = [path for path in files if path.suffix == ".jsonl" and path.name.startswith(("failover-", "failback-"))]
    assert journals, "the drill's runbooks must have written journals"
    assert any(path.name == "report.json" for path in files), "the drill must have written a report"
    assert any(where.startswith("s3://") and "/runs/" in where for where, _ in blobs), "journal mirrors expected"

    leaks = [str(path) for path in files if canary.encode() in path.read_bytes()]
    leaks += [where for where, data in blobs if canary.encode() in data]
    leaks += [name for name, text in outputs.items() if canary in text]
    leaks += [f"exception text: {text}" for text in texts if canary in text]
    print(f"\ncanary scan: {len(outputs) // 2} commands, {len(files)} files "
          f"({sum(p.stat().st_size for p in files)} bytes), {len(blobs)} object versions and items, "
          f"{len(texts)} exception texts; leaks: {len(leaks)}")
    assert leaks == []
    assert loose_modes(work / "reports", fresh_lab.dir / "secrets") == {}


def loose_modes(*roots: Path) -> dict[str, str]:
    """Files and directories (roots included) open to every user or writable by the group."""
    paths = [path for root in roots for path in (root, *root.rglob("*"))]
    assert len(paths) > len(roots)
    return {str(path): oct(stat.S_IMODE(path.stat().st_mode)) for path in paths
            if stat.S_IMODE(path.stat().st_mode) & 0o027}

