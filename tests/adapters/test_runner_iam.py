"""The drill runner's least-privilege policy, enforced by moto's IAM: reads work, destruction is denied.

An IAM user gets exactly the document `infra.iam.drill_runner_policy` renders (the function the
Pulumi program calls), and recovery's own adapters act as that user with IAM authentication on.

What moto 5.2 can and cannot judge (moto/iam/access_control.py):
- S3 is authorized against the object's ARN, so the policy's bucket and key patterns are enforced.
- DynamoDB is authorized by action against the resource "*" (moto passes no table ARN), so a
  statement scoped to the lock table's ARN never matches there. Actions the policy does not grant
  (DeleteTable, UpdateTable, UpdateTimeToLive) are denied whatever the resource, and are tested
  with the exact document; the lease itself is tested with the LeaseLock statement widened to
  "*" (moto's view of every DynamoDB resource), nothing else changed.
- Condition keys are not evaluated for these calls (none of the statements used here has one).
- IAM does not deny rewriting the lease row: the runner must take and release leases
  (PutItem/DeleteItem on the table). A lease someone else holds is protected by DynamoLock's
  conditional writes (Refused, exit 3), shown here as that user.
"""

import json
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.core import enable_iam_authentication

from drills.runner import REPORT_PREFIX
from infra.iam import RunnerScope, drill_runner_policy
from policies.errors import CloudError, Refused
from recovery.adapters.aws_session import client
from recovery.adapters.dynamo_lock import DynamoLock
from recovery.adapters.s3_store import S3ObjectStore
from recovery.backups.manifest import (
    ClusterIdentity,
    ObjectEntry,
    RecoveryPoint,
    Verification,
    manifest_key,
    seal,
    to_bytes,
    verification_key,
)
from recovery.backups.verify import load_point, read_catalog
from recovery.inventory import Inventory
from recovery.runbooks.journal.files import MIRROR_PREFIX
from tests.conftest import make_inventory

pytestmark = pytest.mark.adapters

REGION = "us-west-2"
ACCOUNT = "123456789012"
PID = "20260101T000000Z-physical"
TAR = b"base backup bytes" * 64


def scope(table_arn: str) -> RunnerScope:
    arn = f"arn:aws:{{}}:{REGION}:{ACCOUNT}:{{}}"
    return RunnerScope(
        backup_bucket_arn="arn:aws:s3:::crm-backups", attachments_replica_arn="arn:aws:s3:::crm-attachments",
        report_bucket_arn="arn:aws:s3:::crm-drill-reports", kms_key_arn=arn.format("kms", "key/dr"),
        lock_table_arn=table_arn, topic_arn=arn.format("sns", "crmdr"),
        db_secret_arn=arn.format("secretsmanager", "secret:db"),
        signing_key_secret_arn=arn.format("secretsmanager", "secret:signing"),
        backup_role_arn=f"arn:aws:iam::{ACCOUNT}:role/backup", backup_prefix="crm/", scratch_prefix="crm-drill-",
    )


def seed_point(inventory: Inventory) -> None:
    """What the backup role wrote: a point's object and its manifest (as the admin, before IAM is on)."""
    store = S3ObjectStore(inventory)
    stored = store.put_bytes(f"points/{PID}/base.tar", TAR)
    finished = datetime(2026, 1, 1, tzinfo=UTC)
    point = seal(RecoveryPoint(
        id=PID, kind="physical", stack="test", tool_version="0", started_at=finished, finished_at=finished,
        start_lsn="0/3000028", cluster=ClusterIdentity(system_identifier="1", pg_version=150004, timeline=1),
        objects=[ObjectEntry(key=f"points/{PID}/base.tar", size=len(TAR), sha256=str(stored.sha256))],
        kms_key_id="k", retain_until=finished + timedelta(days=35)))
    store.put_bytes(manifest_key(PID), to_bytes(point))


def runner_user(policy: dict[str, Any], credentials: Path) -> str:
    """An IAM user holding only `policy`, as a named profile; returns the profile name."""
    iam = boto3.client("iam", region_name="us-east-1")
    name = f"drill-runner-{secrets.token_hex(4)}"
    iam.create_user(UserName=name)
    iam.put_user_policy(UserName=name, PolicyName="drill-runner", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    with credentials.open("a") as out:
        out.write(f"[{name}]\naws_access_key_id = {key['AccessKeyId']}\n"
                  f"aws_secret_access_key = {key['SecretAccessKey']}\n")
    return name


@pytest.fixture
def dr_side(dr_key_id: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """Bucket with a point, the lock table, and a credentials file for runner profiles (admin setup)."""
    credentials = tmp_path / "credentials"
    credentials.touch()
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    admin = make_inventory(**{"backup.kms_key_id": dr_key_id})
    table = boto3.client("dynamodb", region_name=REGION).create_table(
        TableName=admin.lock.table, KeySchema=[{"AttributeName": "lock_id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "lock_id", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST",
    )["TableDescription"]["TableArn"]
    seed_point(admin)
    yield {"admin": admin, "policy": drill_runner_policy(scope(table)), "credentials": credentials,
           "key_id": dr_key_id}


def as_runner(dr_side: dict[str, Any], policy: dict[str, Any]) -> Inventory:
    profile = runner_user(policy, dr_side["credentials"])
    return make_inventory(**{"backup.kms_key_id": dr_side["key_id"], "aws.profile": profile})


def test_a_backup_verify_read_and_its_evidence_writes_are_allowed(dr_side: dict[str, Any]) -> None:
    runner = S3ObjectStore(as_runner(dr_side, dr_side["policy"]))
    now = datetime.now(UTC)
    with enable_iam_authentication():
        [status] = read_catalog(runner).points
        point = load_point(runner, PID)
        assert b"".join(runner.iter_chunks(point.objects[0].key)) == TAR
        verdict = Verification(point_id=PID, checked_at=now, restore=False, ok=True, reasons=[])
        runner.put_bytes(verification_key(PID, now), verdict.model_dump_json().encode())
        runner.put_bytes(f"{MIRROR_PREFIX}backup-verify-1.jsonl", b"{}\n")
        runner.put_bytes(f"{REPORT_PREFIX}r1/report.json", b"{}", retain_until=now + timedelta(days=1))
    assert status.point.id == PID
    assert read_catalog(S3ObjectStore(dr_side["admin"])).points[0].verified


def test_deleting_a_recovery_point_or_overwriting_its_manifest_is_denied(dr_side: dict[str, Any]) -> None:
    runner = S3ObjectStore(as_runner(dr_side, dr_side["policy"]))
    admin = S3ObjectStore(dr_side["admin"])
    manifest_before = admin.get_bytes(manifest_key(PID))
    with enable_iam_authentication():
        for key in (f"points/{PID}/base.tar", manifest_key(PID)):
            with pytest.raises(CloudError, match="AccessDenied"):
                runner.delete(key)
        with pytest.raises(CloudError, match="AccessDenied"):
            runner.put_bytes(manifest_key(PID), b'{"id": "forged"}')
        with pytest.raises(CloudError, match="AccessDenied"):
            runner.put_bytes(f"points/{PID}/base.tar", b"forged")
    assert admin.get_bytes(manifest_key(PID)) == manifest_before
    assert admin.get_bytes(f"points/{PID}/base.tar") == TAR


def test_the_lock_table_cannot_be_deleted_or_reconfigured(dr_side: dict[str, Any]) -> None:
    inventory = as_runner(dr_side, dr_side["policy"])
    dynamodb = client(inventory.aws, "dynamodb", inventory.lock.region)
    table = inventory.lock.table
    with enable_iam_authentication():
        for call, args in ((dynamodb.delete_table, {}),
                           (dynamodb.update_table, {"BillingMode": "PROVISIONED", "ProvisionedThroughput": {
                               "ReadCapacityUnits": 1, "WriteCapacityUnits": 1}}),
                           (dynamodb.update_time_to_live, {"TimeToLiveSpecification": {
                               "Enabled": True, "AttributeName": "expires_at"}})):
            with pytest.raises(dynamodb.exceptions.ClientError) as denied:
                call(TableName=table, **args)
            assert denied.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    admin = boto3.client("dynamodb", region_name=REGION).describe_table(TableName=table)["Table"]
    assert admin["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"


def test_the_runner_takes_its_own_lease_but_cannot_change_one_held_by_another_run(dr_side: dict[str, Any]) -> None:
    policy = json.loads(json.dumps(dr_side["policy"]))
    [lease] = [s for s in policy["Statement"] if s["Sid"] == "LeaseLock"]
    lease["Resource"] = ["*"]  # moto authorizes DynamoDB against "*" (see the module docstring)
    inventory = as_runner(dr_side, policy)
    held = DynamoLock(dr_side["admin"], holder="sre@laptop")
    held.acquire("failover-held")
    with enable_iam_authentication():
        with pytest.raises(Refused, match="sre@laptop"):
            DynamoLock(inventory, holder="drill-runner").acquire("drill-1")
        own = DynamoLock(inventory, name="drill", holder="drill-runner")
        own.acquire("drill-1")
        own.renew()
        own.release()
        assert own.current() is None
        dynamodb = client(inventory.aws, "dynamodb", inventory.lock.region)
        with pytest.raises(dynamodb.exceptions.ClientError) as denied:
            dynamodb.delete_table(TableName=inventory.lock.table)
        assert denied.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert (held.current() or {}).get("run_id") == "failover-held"
