"""An RDS stack in moto (both regions): primary, optional cross-region replica or DR snapshot,
Route 53 CNAME failover records, lock table, notice topic, backup bucket."""

import json
from pathlib import Path
from typing import Any

from recovery.adapters.aws_session import client
from recovery.inventory import Inventory
from tests.conftest import make_inventory

PRIMARY, REPLICA = "crm-primary", "crm-replica"


def rds_inventory(endpoint: str | None = None, **overrides: Any) -> Inventory:
    aws = {"aws": {"endpoint_url": endpoint}} if endpoint else {}
    return make_inventory(**{
        "database.engine": "rds", "database.password": {"env": "CRMDR_TEST_DB_PASSWORD"},
        "database.primary": {"name": "primary", "instance_id": PRIMARY, "region": "us-east-1"},
        "database.standby": {"name": "standby", "instance_id": REPLICA, "region": "us-west-2"},
        **aws, **overrides,
    })


def build(inventory: Inventory, *, replica: bool) -> Inventory:
    """Create the world; returns the inventory with the real zone id and KMS key."""
    aws, dr = inventory.aws, inventory.regions.dr
    east = client(aws, "rds", "us-east-1")
    primary = east.create_db_instance(
        DBInstanceIdentifier=PRIMARY, Engine="postgres", EngineVersion="15.4", DBInstanceClass="db.t3.micro",
        MasterUsername="crmdr", MasterUserPassword="password1", AllocatedStorage=20)["DBInstance"]
    if replica:
        client(aws, "rds", dr).create_db_instance_read_replica(
            DBInstanceIdentifier=REPLICA, SourceDBInstanceIdentifier=primary["DBInstanceArn"],
            DBInstanceClass="db.t3.micro")
    else:
        snap = east.create_db_snapshot(DBInstanceIdentifier=PRIMARY, DBSnapshotIdentifier="crmdr-point-1")
        client(aws, "rds", dr).copy_db_snapshot(
            SourceDBSnapshotIdentifier=snap["DBSnapshot"]["DBSnapshotArn"], TargetDBSnapshotIdentifier="crmdr-point-1",
            SourceRegion="us-east-1")
    key = client(aws, "kms", dr).create_key()["KeyMetadata"]["KeyId"]
    client(aws, "s3", dr).create_bucket(Bucket=inventory.backup.bucket, ObjectLockEnabledForBucket=True,
                                        CreateBucketConfiguration={"LocationConstraint": dr})
    client(aws, "dynamodb", dr).create_table(
        TableName=inventory.lock.table, KeySchema=[{"AttributeName": "lock_id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "lock_id", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST")
    topic = client(aws, "sns", dr).create_topic(Name="crmdr")["TopicArn"]
    route53 = client(aws, "route53", "us-east-1")
    zone = route53.create_hosted_zone(Name=inventory.dns.zone, CallerReference="rds")["HostedZone"]["Id"]
    address = primary["Endpoint"]["Address"]
    route53.change_resource_record_sets(HostedZoneId=zone, ChangeBatch={"Changes": [
        {"Action": "CREATE", "ResourceRecordSet": {
            "Name": inventory.dns.record_name, "Type": "CNAME", "TTL": 30, "SetIdentifier": set_id,
            "Failover": role, "ResourceRecords": [{"Value": address}]}}
        for role, set_id in (("PRIMARY", "primary"), ("SECONDARY", "secondary"))]})
    data = json.loads(inventory.to_json())
    data["dns"]["zone_id"] = zone.rsplit("/", 1)[-1]
    data["backup"]["kms_key_id"] = key
    data["notify"]["topic_arn"] = topic
    return Inventory.model_validate(data)


def write(inventory: Inventory, directory: Path) -> Path:
    path = directory / "rds-inventory.json"
    path.write_text(inventory.to_json())
    return path


def state(inventory: Inventory) -> dict[str, Any]:
    """Everything a failover could change: instances of both regions, the records, the lock."""
    found: dict[str, Any] = {}
    for region in ("us-east-1", "us-west-2"):
        for i in client(inventory.aws, "rds", region).describe_db_instances()["DBInstances"]:
            found[f"{region}/{i['DBInstanceIdentifier']}"] = (
                i["DBInstanceStatus"], [g["DBParameterGroupName"] for g in i["DBParameterGroups"]])
    records = client(inventory.aws, "route53", "us-east-1").list_resource_record_sets(
        HostedZoneId=inventory.dns.zone_id)["ResourceRecordSets"]
    found["records"] = sorted(json.dumps(r, sort_keys=True) for r in records)
    found["lock"] = client(inventory.aws, "dynamodb", "us-west-2").scan(TableName=inventory.lock.table)["Items"]
    return found
