"""Pure decisions of the RDS failover: which instance becomes primary, how, and is it fenced.

Inputs are `describe_db_instances` / `describe_db_snapshots` entries (plain dicts) and `now`.
"""

from datetime import datetime
from typing import Any, Literal

from recovery.runbooks.decisions import Truth

Action = Literal["promote", "restore", "done"]
USABLE = ("available", "backing-up", "modifying", "storage-optimization")
STOPPED = ("stopped", "stopping", "deleting")


def is_replica(instance: dict[str, Any]) -> bool:
    return bool(instance.get("ReadReplicaSourceDBInstanceIdentifier"))


def standalone(instance: dict[str, Any] | None, instance_id: str) -> Truth:
    """The instance exists, is available and is no longer a read replica: writable per describe."""
    if instance is None:
        return Truth(False, f"{instance_id} does not exist yet")
    status = str(instance.get("DBInstanceStatus"))
    if is_replica(instance):
        return Truth(False, f"{instance_id} is a read replica ({status})")
    return Truth(status == "available", f"{instance_id} is {status}, not a replica")


def recovery_target(standby_id: str, replica: dict[str, Any] | None,
                    snapshot: dict[str, Any] | None) -> tuple[Action, str] | str:
    """(action, instance id) for the DR side, or why nothing can become the primary."""
    if replica is not None and not is_replica(replica):
        return "done", standby_id
    if replica is not None and str(replica.get("DBInstanceStatus")) in USABLE:
        return "promote", standby_id
    if snapshot is None:
        state = "no cross-region replica" if replica is None else f"replica {replica.get('DBInstanceStatus')}"
        return f"nothing to fail over to: {state} and no available snapshot copied into the DR region"
    return "restore", standby_id if replica is None else f"{standby_id}-restored"


def snapshot_age_seconds(snapshot: dict[str, Any], now: datetime) -> float:
    """What a restore loses at least: everything written since the snapshot was taken."""
    taken = snapshot["SnapshotCreateTime"]
    return max(0.0, (now - taken).total_seconds())


def rds_fenced(instance: dict[str, Any] | None, instance_id: str, fence_group: str) -> Truth:
    """Cannot take writes: gone, stopped, or running with every transaction read-only."""
    if instance is None:
        return Truth(True, f"{instance_id} does not exist")
    status = str(instance.get("DBInstanceStatus"))
    if status in STOPPED:
        return Truth(True, f"{instance_id} is {status}")
    groups = {str(g.get("DBParameterGroupName")): str(g.get("ParameterApplyStatus"))
              for g in instance.get("DBParameterGroups", [])}
    if groups.get(fence_group) == "in-sync" and status == "available":
        return Truth(True, f"{instance_id} runs read-only ({fence_group}, in-sync)")
    return Truth(False, f"{instance_id} is {status} and takes writes")


def rds_stopped(instance: dict[str, Any] | None, instance_id: str) -> Truth:
    if instance is None:
        return Truth(True, f"{instance_id} does not exist")
    status = str(instance.get("DBInstanceStatus"))
    return Truth(status in STOPPED, f"{instance_id} is {status}")
