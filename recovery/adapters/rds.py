"""RDS through boto3: snapshots (take, copy into the DR region, restore-test) and failover
(fence, promote the cross-region replica or restore the newest DR copy, stop the old primary).

Translation only: waiters for the long states, ClientError -> CloudError naming the snapshot.
A restore-test instance is private (not publicly accessible, single-AZ), tagged as scratch,
and deleted without a final snapshot when the test ends, whatever happened.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError, WaiterError

from policies.errors import CloudError
from recovery.adapters.aws_session import client, retryable
from recovery.inventory import Inventory

WAIT = {"Delay": 15, "MaxAttempts": 240}
SCRATCH_TAGS = [{"Key": "crmdr:scratch", "Value": "restore-test"}]


def _fail(action: str, what: str, err: Exception) -> CloudError:
    if isinstance(err, ClientError):
        detail = err.response.get("Error", {})
        return CloudError(f"cannot {action} {what}: {detail.get('Code')} {detail.get('Message', '')}".strip(),
                          retryable=retryable(err))
    return CloudError(f"cannot {action} {what}: {err}", retryable=retryable(err))


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


FENCE_GROUP = "crmdr-fence-{family}"
NOT_FOUND = ("DBInstanceNotFound", "DBInstanceNotFoundFault")


def fence_group(engine_version: str) -> str:
    """The read-only parameter group for an engine version: one per family ('postgres15')."""
    return FENCE_GROUP.format(family=f"postgres{engine_version.partition('.')[0]}")


class RdsInstances:
    """The failover side of RDS: describe, fence, promote, restore and stop, in either region."""

    def __init__(self, inventory: Inventory, *, wait: dict[str, int] | None = None) -> None:
        self._rds: dict[str, Any] = {region: client(inventory.aws, "rds", region)
                                     for region in (inventory.regions.primary, inventory.regions.dr)}
        self._cloudwatch: Any = client(inventory.aws, "cloudwatch", inventory.regions.dr)
        self.dr_region = inventory.regions.dr
        self._wait = wait or WAIT

    def describe(self, region: str, instance_id: str) -> dict[str, Any] | None:
        """The instance, None when it does not exist; CloudError when the region does not answer."""
        try:
            found = self._rds[region].describe_db_instances(DBInstanceIdentifier=instance_id)["DBInstances"]
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") in NOT_FOUND:
                return None
            raise _fail("describe", f"RDS instance {instance_id} in {region}", err) from None
        except BotoCoreError as err:
            raise _fail("describe", f"RDS instance {instance_id} in {region}", err) from None
        return dict(found[0]) if found else None

    def replica_lag(self, instance_id: str, now: datetime) -> float | None:
        """The highest ReplicaLag (seconds) CloudWatch saw in the last five minutes, None without data."""
        try:
            points = self._cloudwatch.get_metric_statistics(
                Namespace="AWS/RDS", MetricName="ReplicaLag", Statistics=["Maximum"], Period=60,
                Dimensions=[{"Name": "DBInstanceIdentifier", "Value": instance_id}],
                StartTime=now - timedelta(minutes=5), EndTime=now + timedelta(minutes=1))["Datapoints"]
        except (ClientError, BotoCoreError) as err:
            raise _fail("read ReplicaLag of", instance_id, err) from None
        return max(float(p["Maximum"]) for p in points) if points else None

    def newest_snapshot(self, source_instance_id: str) -> dict[str, Any] | None:
        """The newest available snapshot of the primary that was copied into the DR region."""
        try:
            pages = self._rds[self.dr_region].get_paginator("describe_db_snapshots").paginate()
            found = [s for page in pages for s in page["DBSnapshots"]
                     if s.get("Status") == "available" and s.get("DBInstanceIdentifier") == source_instance_id]
        except (ClientError, BotoCoreError) as err:
            raise _fail("list snapshots in", self.dr_region, err) from None
        return dict(max(found, key=lambda s: s["SnapshotCreateTime"])) if found else None

    def promote(self, instance_id: str) -> None:
        self._call(self.dr_region, "promote", instance_id, "promote_read_replica",
                   DBInstanceIdentifier=instance_id)

    def restore(self, snapshot_id: str, instance_id: str, tags: dict[str, str]) -> None:
        """A private instance from the DR copy, tagged so people see why it exists."""
        self._call(self.dr_region, "restore", f"{snapshot_id} into {instance_id}",
                   "restore_db_instance_from_db_snapshot", DBInstanceIdentifier=instance_id,
                   DBSnapshotIdentifier=snapshot_id, PubliclyAccessible=False, DeletionProtection=True,
                   Tags=[{"Key": k, "Value": v} for k, v in sorted(tags.items())])

    def wait_available(self, region: str, instance_id: str) -> None:
        try:
            self._rds[region].get_waiter("db_instance_available").wait(
                DBInstanceIdentifier=instance_id, WaiterConfig=self._wait)
        except (ClientError, BotoCoreError, WaiterError) as err:
            raise _fail("wait for", f"RDS instance {instance_id}", err) from None

    def fence_read_only(self, region: str, instance: dict[str, Any]) -> str:
        """Attach a parameter group with default_transaction_read_only=on and reboot into it.

        RDS cannot stop an instance that has read replicas, so this is the fence that works
        before promotion; a session may still `SET transaction_read_write`, which is why the
        failover stops the instance as soon as the promotion has detached the replica.
        """
        instance_id = str(instance["DBInstanceIdentifier"])
        group = fence_group(str(instance.get("EngineVersion", "15")))
        rds = self._rds[region]
        try:
            rds.create_db_parameter_group(DBParameterGroupName=group, DBParameterGroupFamily=group.split("-")[-1],
                                          Description="crm-dr fence: every transaction read-only")
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") != "DBParameterGroupAlreadyExists":
                raise _fail("create parameter group", group, err) from None
        self._call(region, "set read-only in", group, "modify_db_parameter_group", DBParameterGroupName=group,
                   Parameters=[{"ParameterName": "default_transaction_read_only", "ParameterValue": "1",
                                "ApplyMethod": "immediate"}])
        self._call(region, "attach the fence group to", instance_id, "modify_db_instance",
                   DBInstanceIdentifier=instance_id, DBParameterGroupName=group, ApplyImmediately=True)
        self._call(region, "reboot", instance_id, "reboot_db_instance", DBInstanceIdentifier=instance_id)
        return f"{instance_id} rebooted into {group} (default_transaction_read_only=on)"

    def stop(self, region: str, instance_id: str) -> None:
        self._call(region, "stop", instance_id, "stop_db_instance", DBInstanceIdentifier=instance_id)

    def _call(self, region: str, action: str, what: str, method: str, **kwargs: Any) -> None:
        try:
            getattr(self._rds[region], method)(**kwargs)
        except (ClientError, BotoCoreError) as err:
            raise _fail(action, what, err) from None
