"""The lab's AWS: a moto server on loopback standing in for both regions.

Resources are created from the inventory model, the same contract the Pulumi program
exports, so recovery code cannot tell the stand-in from the real thing by its input.
"""

import subprocess
import sys

from drills.lab import network
from drills.lab.settings import LabPaths, LabSettings
from drills.lab.system import pid_alive, terminate, wait_port
from recovery.adapters.aws_session import client
from recovery.inventory import Inventory

MOTO_ACCOUNT = "123456789012"
KMS_ALIAS = "alias/crmdr-backup"


def start_moto(paths: LabPaths, settings: LabSettings, pid: int | None) -> int:
    """Start the moto server unless the one recorded is alive; return its pid."""
    if pid is not None and pid_alive(pid):
        return pid
    paths.aws_log.parent.mkdir(parents=True, exist_ok=True)
    with paths.aws_log.open("ab") as log:
        process = subprocess.Popen(
            network.in_namespace(paths, "aws", [sys.executable, "-m", "moto.server", "-H", str(settings.aws_ip),
                                                "-p", str(settings.aws_port)]),
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
        )
    wait_port(str(settings.aws_ip), settings.aws_port, open_=True, timeout=30, what="moto server")
    return process.pid


def stop_moto(pid: int | None) -> None:
    terminate(pid)


def provisioned(inventory: Inventory) -> bool:
    """The backup bucket exists: the stand-in still holds this lab's resources."""
    s3 = client(inventory.aws, "s3", inventory.backup.region)
    names = {bucket["Name"] for bucket in s3.list_buckets().get("Buckets", [])}
    return inventory.backup.bucket in names


def provision(inventory: Inventory, retention_days: int) -> Inventory:
    """Create the DR side and the DNS records; return the inventory with the assigned ids."""
    aws, dr = inventory.aws, inventory.regions.dr
    kms = client(aws, "kms", dr)
    key_id = kms.create_key(Description="crm-dr backup key", MultiRegion=True)["KeyMetadata"]["KeyId"]
    kms.create_alias(AliasName=KMS_ALIAS, TargetKeyId=key_id)
    _backup_bucket(inventory, key_id, retention_days)
    client(aws, "dynamodb", dr).create_table(
        TableName=inventory.lock.table,
        KeySchema=[{"AttributeName": "lock_id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "lock_id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    client(aws, "sns", dr).create_topic(Name=inventory.notify.topic_arn.rsplit(":", 1)[1])
    zone_id, checks = _dns(inventory)
    data = inventory.model_dump()
    data["dns"].update(zone_id=zone_id, health_checks=checks)
    data["backup"]["kms_key_id"] = key_id
    final = Inventory.model_validate(data)
    client(aws, "s3", dr).put_object(
        Bucket=final.backup.bucket, Key=f"{final.backup.prefix}inventory.json",
        Body=final.to_json().encode(), ServerSideEncryption="aws:kms", SSEKMSKeyId=key_id,
    )
    return final


def _backup_bucket(inventory: Inventory, key_id: str, retention_days: int) -> None:
    s3 = client(inventory.aws, "s3", inventory.backup.region)
    bucket = inventory.backup.bucket
    s3.create_bucket(
        Bucket=bucket, ObjectLockEnabledForBucket=True,
        CreateBucketConfiguration={"LocationConstraint": inventory.backup.region},
    )
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_encryption(
        Bucket=bucket,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key_id},
                       "BucketKeyEnabled": True}]
        },
    )
    s3.put_object_lock_configuration(
        Bucket=bucket,
        ObjectLockConfiguration={
            "ObjectLockEnabled": "Enabled",
            "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": retention_days}},
        },
    )
    s3.put_public_access_block(
        Bucket=bucket,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True, "IgnorePublicAcls": True,
            "BlockPublicPolicy": True, "RestrictPublicBuckets": True,
        },
    )


def ensure_status_side(inventory: Inventory) -> None:
    """The status page's bucket (versioned, a static website as in AWS) and the customers' topic; once."""
    status = inventory.status
    if status is None or status.bucket is None:
        return
    s3 = client(inventory.aws, "s3", inventory.regions.dr)
    if status.bucket in {bucket["Name"] for bucket in s3.list_buckets().get("Buckets", [])}:
        return
    s3.create_bucket(Bucket=status.bucket, CreateBucketConfiguration={"LocationConstraint": inventory.regions.dr})
    s3.put_bucket_versioning(Bucket=status.bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_website(Bucket=status.bucket, WebsiteConfiguration={"IndexDocument": {"Suffix": "index.html"}})
    if status.topic_arn:
        client(inventory.aws, "sns", inventory.regions.dr).create_topic(Name=status.topic_arn.rsplit(":", 1)[1])


def _dns(inventory: Inventory) -> tuple[str, dict[str, str]]:
    """A zone with PRIMARY/SECONDARY failover records, each tied to a TCP health check."""
    route53 = client(inventory.aws, "route53", inventory.regions.primary)
    dns, db = inventory.dns, inventory.database
    zone = route53.create_hosted_zone(Name=dns.zone, CallerReference=f"crmdr-{inventory.stack}-zone")
    zone_id = zone["HostedZone"]["Id"].rsplit("/", 1)[-1]
    checks: dict[str, str] = {}
    changes = []
    for role, node, set_id, failover in (
        ("primary", db.primary, dns.primary_set_id, "PRIMARY"),
        ("secondary", db.standby, dns.secondary_set_id, "SECONDARY"),
    ):
        address = getattr(node, "host", "")
        check = route53.create_health_check(
            CallerReference=f"crmdr-{inventory.stack}-{role}",
            HealthCheckConfig={"IPAddress": address, "Port": node.pg_port, "Type": "TCP",
                               "RequestInterval": 10, "FailureThreshold": 3},
        )
        checks[role] = check["HealthCheck"]["Id"]
        changes.append({
            "Action": "UPSERT",
            "ResourceRecordSet": {
                "Name": dns.record_name, "Type": "A", "TTL": dns.ttl, "SetIdentifier": set_id,
                "Failover": failover, "HealthCheckId": checks[role],
                "ResourceRecords": [{"Value": address}],
            },
        })
    route53.change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch={"Changes": changes})
    return zone_id, checks


def describe(inventory: Inventory) -> dict[str, object]:
    """What the stand-in holds, for `lab status`."""
    s3 = client(inventory.aws, "s3", inventory.backup.region)
    lock = s3.get_object_lock_configuration(Bucket=inventory.backup.bucket)["ObjectLockConfiguration"]
    versioning = s3.get_bucket_versioning(Bucket=inventory.backup.bucket).get("Status")
    return {"bucket": inventory.backup.bucket, "object_lock": lock.get("ObjectLockEnabled"),
            "versioning": versioning}

