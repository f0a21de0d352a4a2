"""Recovery points for `engine: rds`: a snapshot copied into the DR region, and its proof.

The manifest (kind `rds-snapshot`, no objects) lives in the backup bucket like any other
point, so `backup list` and retention treat both paths alike. The cluster identity of an
RDS instance is its DbiResourceId and engine version (no pg_control to read). Table digests
are taken when the primary's endpoint is reachable from here; a restore-test always needs
SQL access to the scratch instance, and fails (naming it) without.
"""

import logging
from importlib.metadata import version
from typing import Any

from policies.errors import ConfigError, DrError
from policies.sla import Tier
from recovery.adapters.pg_validation import digests, validate
from recovery.adapters.postgres import connect
from recovery.adapters.rds import RdsSnapshots
from recovery.adapters.secrets import optional_secret
from recovery.backups.manifest import ClusterIdentity, RecoveryPoint, manifest_key, point_id, seal, to_bytes
from recovery.backups.take import ensure_cluster
from recovery.backups.validation import TableDigest
from recovery.inventory import Inventory, RdsNode
from recovery.ports import Clock, ObjectStore

log = logging.getLogger(__name__)


def engine_version_num(version: str) -> int:
    """'15.4' -> 150004, like server_version_num."""
    major, _, minor = version.partition(".")
    return int(major) * 10000 + int(minor or 0)


def snapshot_name(pid: str) -> str:
    """RDS identifiers start with a letter and hold letters, digits and hyphens."""
    return f"crmdr-{pid}".lower()


def _primary(inventory: Inventory) -> RdsNode:
    node = inventory.database.primary
    if not isinstance(node, RdsNode):
        raise ConfigError("inventory database.engine is 'hosts': use the pg_basebackup path")
    return node


def _password(inventory: Inventory) -> str | None:
    ref = inventory.database.password
    return optional_secret(ref, inventory)


def _digests(inventory: Inventory, node: RdsNode) -> dict[str, TableDigest]:
    if not node.endpoint:
        return {}
    try:
        with connect(node.endpoint, node.pg_port, user=inventory.database.user,
                     password=_password(inventory), dbname=inventory.database.name) as conn:
            return digests(conn)
    except DrError as err:
        log.warning("no table digests for the RDS point: %s", err)
        return {}


def run_rds_backup(inventory: Inventory, tier: Tier, store: ObjectStore, rds: RdsSnapshots,
                   clock: Clock) -> RecoveryPoint:
    node = _primary(inventory)
    described = rds.instance(node.instance_id)
    identity = ClusterIdentity(system_identifier=str(described.get("DbiResourceId") or node.instance_id),
                               pg_version=engine_version_num(str(described["EngineVersion"])), timeline=1)
    ensure_cluster(store, identity)
    started = clock.now()
    pid = point_id(started, "rds-snapshot")
    tables = _digests(inventory, node)
    source = rds.snapshot(node.instance_id, snapshot_name(pid))
    copy = rds.copy_to_dr(str(source["DBSnapshotArn"]), snapshot_name(pid), inventory.backup.kms_key_id)
    until = started + tier.retention
    point = seal(RecoveryPoint(
        id=pid, kind="rds-snapshot", stack=inventory.stack, tool_version=version("crm-dr"), started_at=started,
        finished_at=clock.now(), cluster=identity, objects=[], kms_key_id=inventory.backup.kms_key_id,
        retain_until=until, tables=tables, snapshot_arn=str(copy["DBSnapshotArn"])))
    store.put_bytes(manifest_key(pid), to_bytes(point), retain_until=until)
    return point


def rds_reasons(inventory: Inventory, point: RecoveryPoint, rds: RdsSnapshots, *, restore: bool,
                evidence: dict[str, object]) -> list[str]:
    """The DR copy exists, is available, encrypted with the DR key, same major; optionally restored."""
    name = snapshot_name(point.id)
    found = rds.describe_dr(name)
    if found is None:
        return [f"snapshot {name} is missing in {rds.dr_region} (manifest {manifest_key(point.id)})"]
    evidence["snapshot"] = {k: str(found.get(k)) for k in ("DBSnapshotArn", "Status", "EngineVersion", "KmsKeyId")}
    reasons = _snapshot_problems(found, name, point, inventory.backup.kms_key_id)
    if reasons or not restore:
        return reasons
    scratch = f"crmdr-scratch-{point.id.lower()}"[:63].rstrip("-")
    with rds.restored(name, scratch) as instance:
        evidence["isolation"] = "private scratch instance (not publicly accessible), deleted afterwards"
        return _validate_instance(inventory, point, instance)


def _snapshot_problems(found: dict[str, Any], name: str, point: RecoveryPoint, kms_key_id: str) -> list[str]:
    reasons = []
    if found.get("Status") != "available":
        reasons.append(f"snapshot {name} is {found.get('Status')}, not available")
    if not found.get("Encrypted") or kms_key_id not in str(found.get("KmsKeyId", "")):
        reasons.append(f"snapshot {name} is not encrypted with the DR key {kms_key_id}")
    if engine_version_num(str(found.get("EngineVersion", "0"))) // 10000 != point.cluster.major:
        reasons.append(f"snapshot {name} is PostgreSQL {found.get('EngineVersion')}, "
                       f"the manifest says {point.cluster.major}")
    return reasons


def _validate_instance(inventory: Inventory, point: RecoveryPoint, instance: dict[str, Any]) -> list[str]:
    endpoint = instance.get("Endpoint") or {}
    try:
        address, port, password = str(endpoint.get("Address")), int(endpoint.get("Port", 5432)), _password(inventory)
        return validate(lambda: connect(address, port, user=inventory.database.user, password=password,
                                        dbname=inventory.database.name, timeout=10), point.tables or None)
    except DrError as err:
        return [f"restored instance {instance.get('DBInstanceIdentifier')} could not be validated: {err}"]
