"""Reading a lab's state for runbook tests: roles, files that decide roles, DNS, journals; pg_ctl on a
node over SSH; a test's figures reported."""

import json
from pathlib import Path
from typing import Any

from drills.lab.lab import status
from drills.lab.settings import LabPaths
from recovery.adapters.aws_session import client
from recovery.adapters.fabric_host import FabricHostRunner
from recovery.adapters.postgres import connect
from recovery.adapters.route53_dns import Route53Dns
from recovery.inventory import HostNode
from recovery.runbooks.journal.events import Event
from recovery.runbooks.journal.files import read_events
from tests.conftest import crmdr
from tests.lab.conftest import Lab

ROLE_FILES = ("crmdr_host.conf", "standby.signal", "postgresql.auto.conf", "postgresql.conf", "pg_hba.conf")


def roles(lab: Lab) -> dict[str, str]:
    """node -> primary / standby / unreachable, as `crmdr lab status` reports it."""
    parts = status(lab.dir)["parts"]
    return {p["part"].removeprefix("PostgreSQL of "): p.get("role", "down")
            for p in parts if p["part"].startswith("PostgreSQL of ")}


def role_files(lab: Lab) -> dict[str, bytes | None]:
    """The bytes of every file that decides a node's role and upstream."""
    paths = LabPaths(lab.dir)
    found: dict[str, bytes | None] = {}
    for node in ("primary", "standby"):
        for name in ROLE_FILES:
            file = paths.data_dir(node) / name
            found[f"{node}/{name}"] = file.read_bytes() if file.exists() else None
    return found


def cloud_state(lab: Lab) -> dict[str, Any]:
    inv = lab.inventory
    lock = client(inv.aws, "dynamodb", inv.lock.region).scan(TableName=inv.lock.table)["Items"]
    objects = client(inv.aws, "s3", inv.backup.region).list_objects_v2(Bucket=inv.backup.bucket).get("Contents", [])
    return {"dns": Route53Dns(inv).records(), "lock": lock, "objects": sorted(o["Key"] for o in objects)}


def write_through_name(lab: Lab, marker: int) -> str:
    """Insert one row through the DNS name; returns the address it went to."""
    address = Route53Dns(lab.inventory).resolve()
    db = lab.inventory.database
    with connect(address, db.primary.pg_port, user=db.user, password=lab.password, dbname=db.name) as conn:
        conn.execute("INSERT INTO crmdr_probe (id, writer) VALUES (%s, 'test')", (marker,))
    return address


def run(lab: Lab, runbook: str, journal: Path, *args: str, env: dict[str, str] | None = None) -> Any:
    return crmdr(runbook, "--inventory", str(lab.inventory_path), "--journal-dir", str(journal), *args, env=env)


def only_run(journal: Path) -> list[Event]:
    files = sorted(journal.glob("*.jsonl"))
    assert len(files) == 1, files
    return read_events(files[0].stem, journal)


def result(completed: Any) -> dict[str, Any]:
    assert completed.returncode == 0, completed.stderr
    data: dict[str, Any] = json.loads(completed.stdout)
    return data


def pg_ctl(lab: Lab, node_name: str, action: str, timeout: float) -> None:
    """`pg_ctl ACTION -D <data dir>` on database node `node_name` (primary / standby) over the lab's SSH."""
    node = getattr(lab.inventory.database, node_name)
    assert isinstance(node, HostNode)
    runner = FabricHostRunner(node, lab.inventory.ssh, secrets=[lab.password])
    runner.open()
    try:
        runner.run(f"{node.bin_dir}/pg_ctl {action} -D {node.data_dir}", timeout=timeout)
    finally:
        runner.close()


def report(record_property: Any, title: str, figures: dict[str, Any]) -> None:
    """Each figure as a junit property, and one printed line."""
    for key, value in figures.items():
        record_property(key, value)
    print(f"{title}: {figures}")
