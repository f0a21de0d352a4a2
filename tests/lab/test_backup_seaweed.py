"""Backups on another S3 server: SeaweedFS holds the bucket, moto keeps KMS, DynamoDB and Route 53.

One lab for the module (slot 8) and a real `weed server -s3` (versioning and Object Lock on the
bucket, no SSE-KMS). The inventory is the lab's with `backup.endpoint_url` pointing at SeaweedFS:
with the default SSE-KMS the store is refused before anything is uploaded; with
`backup.encryption: envelope` a backup runs, lists, verifies by restoring, restores onto the standby,
and the stored bytes are ciphertext.
"""

import json
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from drills.lab.seaweed import Seaweed, create_locked_bucket, start_seaweed
from recovery.adapters import envelope
from recovery.adapters.aws_session import client
from recovery.adapters.postgres import connect
from recovery.inventory import Inventory
from tests.conftest import crmdr
from tests.lab.conftest import NET, Lab, start_lab, stop_lab

pytestmark = [pytest.mark.lab, pytest.mark.slow]

BUCKET = "crm-dr-weed"


@dataclass(frozen=True)
class World:
    lab: Lab
    weed: Seaweed
    raw: Any  # a plain S3 client of the SeaweedFS bucket
    key_id: str  # a single-region DR key: moto 5 cannot Decrypt under a multi-region (mrk-) key like the lab's

    def inventory(self, **backup: Any) -> Path:
        """The lab's inventory with the bucket moved to SeaweedFS; written where the service user reads it."""
        data = json.loads(self.lab.inventory.to_json())
        data["backup"].update(bucket=BUCKET, endpoint_url=self.weed.url, kms_key_id=self.key_id, **backup)
        path = self.lab.dir / f"inventory-weed-{backup.get('encryption', 'sse-kms')}.json"
        path.write_text(Inventory.model_validate(data).to_json())
        path.chmod(0o644)
        return path

    def stored_keys(self) -> list[str]:
        versions = self.raw.list_object_versions(Bucket=BUCKET)
        return sorted(v["Key"] for v in [*versions.get("Versions", []), *versions.get("DeleteMarkers", [])])


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    lab = start_lab(8, rows=100)
    root = Path(tempfile.mkdtemp(prefix="crmdr-weed-lab-"))
    try:
        weed = start_seaweed(root, f"127.0.{NET}.203", 20000 + 40 * NET + 20)
        try:
            raw = boto3.client("s3", endpoint_url=weed.url, region_name=lab.inventory.backup.region,
                               aws_access_key_id="lab", aws_secret_access_key="lab")
            create_locked_bucket(raw, BUCKET)
            kms = client(lab.inventory.aws, "kms", lab.inventory.backup.region)
            yield World(lab, weed, raw, kms.create_key(Description="crm-dr envelope key")["KeyMetadata"]["KeyId"])
        finally:
            weed.stop()
    finally:
        stop_lab(lab.dir)
        shutil.rmtree(root, ignore_errors=True)


def _sql(lab: Lab, node: str, query: str) -> list[tuple[Any, ...]]:
    ip = lab.settings.primary_ip if node == "primary" else lab.settings.standby_ip
    with connect(ip.exploded, lab.settings.pg_port, user="crmdr", password=lab.password, dbname="crm") as conn:
        return list(conn.execute(query).fetchall())


def test_a_store_without_sse_kms_is_refused_and_nothing_is_uploaded(world: World) -> None:
    done = crmdr("backup", "run", "--kind", "physical", "--inventory", str(world.inventory()))

    assert done.returncode == 3, done.stdout + done.stderr
    assert "did not take an SSE-KMS write" in done.stderr and "backup.encryption: envelope" in done.stderr
    assert "Traceback" not in done.stderr
    assert world.stored_keys() == []  # runs first: the envelope test below fills the bucket


def test_backup_list_verify_restore_on_seaweedfs_with_envelope(world: World, tmp_path: Path) -> None:
    inventory = str(world.inventory(encryption="envelope"))
    scratch = Path(tempfile.mkdtemp(prefix="crmdr-scratch-test-", dir="/tmp"))
    scratch.chmod(0o755)
    expected = _sql(world.lab, "primary", "SELECT count(*) FROM accounts")

    backup = crmdr("backup", "run", "--kind", "physical", "--inventory", inventory, "--json")
    assert backup.returncode == 0, backup.stderr
    point = json.loads(backup.stdout)["id"]
    verified = crmdr("backup", "verify", "--id", point, "--restore", "--inventory", inventory, "--json",
                     env={"CRMDR_SCRATCH_DIR": str(scratch)})
    listed = crmdr("backup", "list", "--inventory", inventory, "--json")
    restored = crmdr("restore", "--id", point, "--target", "standby", "--yes", "--json", "--inventory", inventory,
                     "--journal-dir", str(tmp_path))
    shutil.rmtree(scratch, ignore_errors=True)

    assert listed.returncode == 0, listed.stderr
    assert point in [p["id"] for p in json.loads(listed.stdout)["points"]]
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert restored.returncode == 0, restored.stdout + restored.stderr
    assert json.loads(restored.stdout)["status"] == "succeeded"
    assert _sql(world.lab, "standby", "SELECT pg_is_in_recovery()") == [(False,)]
    assert _sql(world.lab, "standby", "SELECT count(*) FROM accounts") == expected
    stored = world.raw.get_object(Bucket=BUCKET, Key=f"{world.lab.inventory.backup.prefix}points/{point}/base.tar.zst")  # zstd: the default
    raw = stored["Body"].read()
    assert stored["Metadata"][envelope.META_FORMAT] == envelope.STREAM_FORMAT
    assert b"ustar" not in raw[:4096] and b"PG_VERSION" not in raw  # no tar header, no file name in clear
