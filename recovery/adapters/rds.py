"""RDS snapshots through boto3: take in the primary region, copy into the DR region, restore-test.

Translation only: waiters for the long states, ClientError -> CloudError naming the snapshot.
A restore-test instance is private (not publicly accessible, single-AZ), tagged as scratch,
and deleted without a final snapshot when the test ends, whatever happened.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError, WaiterError

from policies.errors import CloudError
from recovery.adapters.aws_session import client
from recovery.inventory import Inventory

WAIT = {"Delay": 15, "MaxAttempts": 240}
SCRATCH_TAGS = [{"Key": "crmdr:scratch", "Value": "restore-test"}]


def _fail(action: str, what: str, err: Exception) -> CloudError:
    if isinstance(err, ClientError):
        detail = err.response.get("Error", {})
        return CloudError(f"cannot {action} {what}: {detail.get('Code')} {detail.get('Message', '')}".strip())
    return CloudError(f"cannot {action} {what}: {err}")


class RdsSnapshots:
    def __init__(self, inventory: Inventory, *, wait: dict[str, int] | None = None) -> None:
        self._primary: Any = client(inventory.aws, "rds", inventory.regions.primary)
        self._dr: Any = client(inventory.aws, "rds", inventory.regions.dr)
        self.primary_region = inventory.regions.primary
        self.dr_region = inventory.regions.dr
        self._wait = wait or WAIT

    def instance(self, instance_id: str) -> dict[str, Any]:
        try:
            found = self._primary.describe_db_instances(DBInstanceIdentifier=instance_id)["DBInstances"]
        except (ClientError, BotoCoreError) as err:
            raise _fail("describe", f"RDS instance {instance_id}", err) from None
        return dict(found[0])

    def snapshot(self, instance_id: str, snapshot_id: str) -> dict[str, Any]:
        """A manual snapshot in the primary region, once available."""
        try:
            self._primary.create_db_snapshot(DBInstanceIdentifier=instance_id, DBSnapshotIdentifier=snapshot_id,
                                             Tags=[{"Key": "crmdr:point", "Value": snapshot_id}])
            self._primary.get_waiter("db_snapshot_available").wait(
                DBSnapshotIdentifier=snapshot_id, WaiterConfig=self._wait)
            return dict(self._primary.describe_db_snapshots(
                DBSnapshotIdentifier=snapshot_id)["DBSnapshots"][0])
        except (ClientError, BotoCoreError, WaiterError) as err:
            raise _fail("snapshot", f"RDS instance {instance_id}", err) from None

    def copy_to_dr(self, source_arn: str, target_id: str, kms_key_id: str) -> dict[str, Any]:
        """Cross-region copy, re-encrypted with the DR region's key, once available."""
        try:
            self._dr.copy_db_snapshot(SourceDBSnapshotIdentifier=source_arn, TargetDBSnapshotIdentifier=target_id,
                                      KmsKeyId=kms_key_id, SourceRegion=self.primary_region, CopyTags=True)
            self._dr.get_waiter("db_snapshot_available").wait(
                DBSnapshotIdentifier=target_id, WaiterConfig=self._wait)
        except (ClientError, BotoCoreError, WaiterError) as err:
            raise _fail("copy", f"snapshot {source_arn} to {self.dr_region}", err) from None
        found = self.describe_dr(target_id)
        if found is None:
            raise CloudError(f"snapshot {target_id} vanished in {self.dr_region} right after its copy")
        return found

    def describe_dr(self, snapshot_id: str) -> dict[str, Any] | None:
        try:
            found = self._dr.describe_db_snapshots(DBSnapshotIdentifier=snapshot_id)["DBSnapshots"]
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") == "DBSnapshotNotFound":
                return None
            raise _fail("describe", f"snapshot {snapshot_id}", err) from None
        except BotoCoreError as err:
            raise _fail("describe", f"snapshot {snapshot_id}", err) from None
        return dict(found[0]) if found else None

    @contextmanager
    def restored(self, snapshot_id: str, instance_id: str) -> Iterator[dict[str, Any]]:
        """A private scratch instance from the DR copy; deleted on exit."""
        try:
            self._dr.restore_db_instance_from_db_snapshot(
                DBInstanceIdentifier=instance_id, DBSnapshotIdentifier=snapshot_id, PubliclyAccessible=False,
                MultiAZ=False, Tags=SCRATCH_TAGS, DeletionProtection=False)
            self._dr.get_waiter("db_instance_available").wait(
                DBInstanceIdentifier=instance_id, WaiterConfig=self._wait)
            found = self._dr.describe_db_instances(DBInstanceIdentifier=instance_id)["DBInstances"][0]
        except (ClientError, BotoCoreError, WaiterError) as err:
            self._delete(instance_id)
            raise _fail("restore", f"snapshot {snapshot_id} into {instance_id}", err) from None
        try:
            yield dict(found)
        finally:
            self._delete(instance_id)

    def scratch_exists(self, instance_id: str) -> bool:
        try:
            self._dr.describe_db_instances(DBInstanceIdentifier=instance_id)
        except ClientError:
            return False
        return True

    def _delete(self, instance_id: str) -> None:
        try:
            self._dr.delete_db_instance(DBInstanceIdentifier=instance_id, SkipFinalSnapshot=True,
                                        DeleteAutomatedBackups=True)
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") != "DBInstanceNotFound":
                raise _fail("delete", f"scratch instance {instance_id}", err) from None
