"""The RDS path against moto: snapshot, cross-region copy, list, verify, restore-test cleanup.

moto implements every RDS call used here (create/copy/describe snapshots, restore, delete),
so no Stubber is needed. moto's restored instance has an endpoint nothing listens on, so the
restore-test here proves the failure path: no SQL access means no success, and no leak.
"""

from typing import Any

import boto3
import pytest

from policies.sla import load_policy
from recovery.adapters.clock import SystemClock
from recovery.adapters.rds import RdsSnapshots
from recovery.adapters.s3_store import S3ObjectStore
from recovery.backups.rds_backup import run_rds_backup, snapshot_name
from recovery.backups.verify import read_catalog, verify_point
from tests.conftest import make_inventory

pytestmark = pytest.mark.adapters

FAST = {"Delay": 1, "MaxAttempts": 5}


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch, dr_key_id: str) -> tuple[Any, S3ObjectStore, RdsSnapshots]:
    monkeypatch.setenv("CRMDR_TEST_DB_PASSWORD", "not-a-real-one")
    boto3.client("rds", region_name="us-east-1").create_db_instance(
        DBInstanceIdentifier="crm-primary", Engine="postgres", EngineVersion="15.4",
        DBInstanceClass="db.t3.micro", MasterUsername="crmdr", MasterUserPassword="password1",
        AllocatedStorage=20, StorageEncrypted=True)
    inventory = make_inventory(**{
        "backup.kms_key_id": dr_key_id, "database.engine": "rds",
        "database.primary": {"name": "primary", "instance_id": "crm-primary", "region": "us-east-1"},
        "database.standby": {"name": "standby", "instance_id": "crm-replica", "region": "us-west-2"},
    })
    return inventory, S3ObjectStore(inventory), RdsSnapshots(inventory, wait=FAST)


def test_snapshot_is_copied_to_the_dr_region_and_verified(world: Any) -> None:
    inventory, store, rds = world

    point = run_rds_backup(inventory, load_policy().tier("gold"), store, rds, SystemClock())

    assert point.kind == "rds-snapshot" and point.cluster.major == 15
    assert point.snapshot_arn is not None and ":us-west-2:" in point.snapshot_arn
    copy = rds.describe_dr(snapshot_name(point.id))
    assert copy is not None and copy["Encrypted"]
    assert [s.point.id for s in read_catalog(store).points] == [point.id]
    verdict = verify_point(inventory, store, point.id, restore=False)
    assert verdict.ok, verdict.reasons


def test_missing_dr_copy_fails_naming_the_snapshot(world: Any) -> None:
    inventory, store, rds = world
    point = run_rds_backup(inventory, load_policy().tier("gold"), store, rds, SystemClock())
    boto3.client("rds", region_name="us-west-2").delete_db_snapshot(DBSnapshotIdentifier=snapshot_name(point.id))

    verdict = verify_point(inventory, store, point.id, restore=False)

    assert not verdict.ok
    assert verdict.reasons == [f"snapshot {snapshot_name(point.id)} is missing in us-west-2 "
                               f"(manifest points/{point.id}/manifest.json)"]


def test_restore_test_without_sql_access_fails_and_leaves_no_instance(world: Any) -> None:
    inventory, store, rds = world
    point = run_rds_backup(inventory, load_policy().tier("gold"), store, rds, SystemClock())

    verdict = verify_point(inventory, store, point.id, restore=True)

    assert not verdict.ok
    assert "could not be validated" in verdict.reasons[0]
    instances = boto3.client("rds", region_name="us-west-2").describe_db_instances()["DBInstances"]
    assert [i["DBInstanceIdentifier"] for i in instances if "scratch" in i["DBInstanceIdentifier"]] == []
