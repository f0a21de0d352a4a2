"""The program under Pulumi's mocks: which resources exist per strategy, where, and how set."""

import json

import pytest

from infra.settings import STRATEGIES
from tests.infra.conftest import INFRA, preview, preview_for

pytestmark = INFRA

PRIMARY, DR = "eu-west-1", "eu-central-1"
RDS = "aws:rds/instance:Instance"
ASG = "aws:autoscaling/group:Group"
RECORD = "aws:route53/record:Record"
OBJECT_LOCK = "aws:s3/bucketObjectLockConfigurationV2:BucketObjectLockConfigurationV2"


def _region_of_arn(arn: str) -> str:
    return arn.split(":")[3]


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_every_resource_sits_in_one_of_the_two_regions_through_an_explicit_provider(strategy: str) -> None:
    resources = preview_for(strategy).resources
    assert {resource.region for resource in resources} == {PRIMARY, DR}
    assert all(resource.component for resource in resources), "every resource belongs to a component"


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_primary_database_is_multi_az_encrypted_protected_and_keeps_the_tier_retention(strategy: str) -> None:
    run = preview_for(strategy)
    database = run.named(RDS, "primary-crm-db")
    assert database.region == PRIMARY
    assert database.inputs["engine"] == "postgres"
    assert database.inputs["multiAz"] is True
    assert database.inputs["storageEncrypted"] is True
    assert database.inputs["deletionProtection"] is True
    assert database.inputs["backupRetentionPeriod"] == 35  # every shipped tier keeps 35 days
    assert _region_of_arn(database.inputs["kmsKeyId"]) == PRIMARY
    assert database.inputs["identifier"] == "crm-dr-test-primary"


@pytest.mark.parametrize(
    ("strategy", "replica_multi_az", "standby_servers"),
    [("backup-restore", None, 0), ("pilot-light", False, 0), ("warm-standby", True, 1)],
)
def test_standby_follows_the_strategy(strategy: str, replica_multi_az: bool | None, standby_servers: int) -> None:
    run = preview_for(strategy)
    primary = run.named(RDS, "primary-crm-db")
    replicas = [db for db in run.of_type(RDS) if db.inputs.get("replicateSourceDb")]
    if replica_multi_az is None:
        assert replicas == []
    else:
        [replica] = replicas
        assert replica.region == DR
        assert replica.inputs["replicateSourceDb"] == f"arn:aws:rds:{PRIMARY}:123456789012:db:crm-dr-test-primary"
        assert _region_of_arn(replica.inputs["kmsKeyId"]) == DR
        assert replica.inputs["multiAz"] is replica_multi_az
        assert replica.inputs["deletionProtection"] is True
    groups = {group.region: group.inputs for group in run.of_type(ASG)}
    assert groups[PRIMARY]["desiredCapacity"] == 2
    assert groups[DR]["desiredCapacity"] == standby_servers
    assert groups[DR]["minSize"] == standby_servers
    assert primary.inputs["backupRetentionPeriod"] == 35


def test_backup_plan_copies_every_recovery_point_to_the_locked_dr_vault() -> None:
    run = preview_for("warm-standby")
    plan = run.named("aws:backup/plan:Plan", "primary-backup-plan")
    assert plan.region == PRIMARY
    [rule] = plan.inputs["rules"]
    assert rule["schedule"] == "cron(0 * * * ? *)"  # gold: hourly
    assert rule["lifecycle"]["deleteAfter"] == 35
    [copy] = rule["copyActions"]
    dr_vault = run.named("aws:backup/vault:Vault", "dr-offsite-vault")
    assert dr_vault.region == DR
    assert copy["destinationVaultArn"].startswith(f"arn:aws:backup:{DR}:")
    assert copy["lifecycle"]["deleteAfter"] == 35
    lock = run.named("aws:backup/vaultLockConfiguration:VaultLockConfiguration", "dr-offsite-vault-lock")
    assert lock.region == DR
    assert lock.inputs["minRetentionDays"] == 35
    assert "changeableForDays" not in lock.inputs  # gold's lock mode is GOVERNANCE
    selection = run.named("aws:backup/selection:Selection", "primary-backup-selection")
    assert f"arn:aws:rds:{PRIMARY}:123456789012:db:crm-dr-test-primary" in selection.inputs["resources"]


def test_bronze_backs_up_daily_and_compliance_mode_sets_the_cooling_off_period() -> None:
    run = preview_for("backup-restore", vaultLockMode="COMPLIANCE", vaultLockCoolingOffDays=7)
    [rule] = run.named("aws:backup/plan:Plan", "primary-backup-plan").inputs["rules"]
    assert rule["schedule"] == "cron(0 5 * * ? *)"
    lock = run.named("aws:backup/vaultLockConfiguration:VaultLockConfiguration", "dr-offsite-vault-lock")
    assert lock.inputs["changeableForDays"] == 7
    modes = {r.name: r.inputs["rule"]["defaultRetention"]["mode"] for r in run.of_type(OBJECT_LOCK)}
    assert set(modes.values()) == {"COMPLIANCE"}


def test_off_site_buckets_are_locked_encrypted_with_the_dr_key_and_fed_by_replication() -> None:
    run = preview_for("pilot-light")
    locks = {lock.name: lock for lock in run.of_type(OBJECT_LOCK)}
    assert set(locks) == {
        "dr-offsite-backups-object-lock",
        "dr-offsite-attachments-object-lock",
        "dr-drills-reports-object-lock",
    }
    assert {lock.region for lock in locks.values()} == {DR}
    assert locks["dr-offsite-backups-object-lock"].inputs["rule"]["defaultRetention"] == {
        "mode": "GOVERNANCE",
        "days": 35,
    }
    assert locks["dr-drills-reports-object-lock"].inputs["rule"]["defaultRetention"]["days"] == 365
    encryption = run.named(
        "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2",
        "dr-offsite-backups-encryption",
    )
    default = encryption.inputs["rules"][0]["applyServerSideEncryptionByDefault"]
    assert default["sseAlgorithm"] == "aws:kms"
    assert _region_of_arn(default["kmsMasterKeyId"]) == DR
    replication = run.named("aws:s3/bucketReplicationConfig:BucketReplicationConfig", "primary-backup-replication")
    assert replication.region == PRIMARY
    [rule] = replication.inputs["rules"]
    replica_bucket = run.named("aws:s3/bucketV2:BucketV2", "dr-offsite-attachments")
    assert replica_bucket.region == DR
    assert replica_bucket.inputs["objectLockEnabled"] is True
    assert rule["destination"]["bucket"] == replica_bucket.outputs["arn"]
    assert _region_of_arn(rule["destination"]["encryptionConfiguration"]["replicaKmsKeyId"]) == DR
    assert rule["deleteMarkerReplication"]["status"] == "Disabled"
    automated = run.named(
        "aws:rds/instanceAutomatedBackupsReplication:InstanceAutomatedBackupsReplication", "dr-offsite-rds-backups"
    )
    assert automated.region == DR
    assert automated.inputs["sourceDbInstanceArn"].startswith(f"arn:aws:rds:{PRIMARY}:")
    assert automated.inputs["retentionPeriod"] == 35


def test_the_backup_key_is_multi_region_with_its_primary_in_the_dr_region() -> None:
    run = preview_for("warm-standby")
    key = run.named("aws:kms/key:Key", "dr-key-mrk")  # the status page has a key of its own
    [replica] = run.of_type("aws:kms/replicaKey:ReplicaKey")
    assert (key.region, key.inputs["multiRegion"], key.inputs["enableKeyRotation"]) == (DR, True, True)
    assert replica.region == PRIMARY
    assert _region_of_arn(replica.inputs["primaryKeyArn"]) == DR


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_failover_records_have_short_ttls_and_a_health_check_the_dr_side_controls(strategy: str) -> None:
    run = preview_for(strategy)
    records = {record.name: record.inputs for record in run.of_type(RECORD)}
    assert set(records) == {"dr-dns-db-primary", "dr-dns-db-secondary", "dr-dns-app-primary", "dr-dns-app-secondary"}
    assert all(record["ttl"] <= 60 and record["type"] == "CNAME" for record in records.values())
    [check] = run.of_type("aws:route53/healthCheck:HealthCheck")
    assert check.inputs["type"] == "CLOUDWATCH_METRIC"
    assert check.inputs["cloudwatchAlarmRegion"] == DR
    assert check.inputs["insufficientDataHealthStatus"] == "Healthy"
    assert records["dr-dns-db-primary"]["healthCheckId"] == "dr-dns-primary-check-id"
    assert "healthCheckId" not in records["dr-dns-db-secondary"]
    alarm = run.named("aws:cloudwatch/metricAlarm:MetricAlarm", "dr-recovery-failover-alarm")
    assert alarm.region == DR
    assert alarm.inputs["name"] == check.inputs["cloudwatchAlarmName"]
    assert alarm.inputs["treatMissingData"] == "ignore"  # the decision sticks until failback
    secondary_db = records["dr-dns-db-secondary"]["records"][0]
    if strategy == "backup-restore":
        assert secondary_db == "restore-pending.invalid"
    else:
        assert secondary_db.endswith(f".{DR}.rds.amazonaws.com")
        assert secondary_db.startswith("crm-dr-test-standby.")


def test_recovery_plumbing_lives_in_the_dr_region() -> None:
    run = preview_for("pilot-light")
    table = run.named("aws:dynamodb/table:Table", "dr-recovery-lock")
    assert table.region == DR
    assert table.inputs["hashKey"] == "lock_id"  # what recovery.adapters.dynamo_lock writes
    assert table.inputs["deletionProtectionEnabled"] is True
    secret = run.named("aws:secretsmanager/secret:Secret", "dr-recovery-db-secret")
    assert secret.region == DR
    assert [replica["region"] for replica in secret.inputs["replicas"]] == [PRIMARY]
    topic = run.named("aws:sns/topic:Topic", "dr-recovery-events")
    assert topic.region == DR


def test_the_inventory_is_written_into_the_dr_backup_bucket_as_exported() -> None:
    run = preview_for("warm-standby")
    copy = run.named("aws:s3/bucketObjectv2:BucketObjectv2", "dr-inventory-object")
    assert copy.region == DR
    assert copy.inputs["key"] == "crm/inventory.json"
    assert copy.inputs["bucket"] == run.outputs["backup_bucket"]
    assert copy.inputs["serverSideEncryption"] == "aws:kms"
    assert json.loads(copy.inputs["content"]) == run.outputs["dr_inventory"]


@pytest.mark.parametrize(
    ("strategy", "rates"),
    [
        ("warm-standby", ["rate(1 day)", "rate(7 days)", "rate(30 days)"]),
        ("backup-restore", ["rate(7 days)", "rate(90 days)", "rate(365 days)"]),
    ],
)
def test_drill_schedules_follow_the_tier_cadences(strategy: str, rates: list[str]) -> None:
    run = preview_for(strategy)
    schedules = {s.name: s.inputs for s in run.of_type("aws:scheduler/schedule:Schedule")}
    kinds = ["backup-verify", "restore-test", "failover"]
    assert [schedules[f"dr-drills-{kind}-schedule"]["scheduleExpression"] for kind in kinds] == rates
    states = [schedules[f"dr-drills-{kind}-schedule"]["state"] for kind in kinds]
    assert states == ["ENABLED", "ENABLED", "DISABLED"]  # no unattended failover drill in production
    assert all(s["target"]["ecsParameters"]["launchType"] == "FARGATE" for s in schedules.values())


def test_staging_enables_the_failover_drill_and_each_task_runs_its_drill_command() -> None:
    run = preview(environment="staging")
    schedules = {s.name: s.inputs for s in run.of_type("aws:scheduler/schedule:Schedule")}
    assert schedules["dr-drills-failover-schedule"]["state"] == "ENABLED"
    definitions = {d.name: d.inputs for d in run.of_type("aws:ecs/taskDefinition:TaskDefinition")}
    assert set(definitions) == {"dr-drills-backup-verify", "dr-drills-restore-test", "dr-drills-failover"}
    containers = {c["name"]: c for c in json.loads(definitions["dr-drills-restore-test"]["containerDefinitions"])}
    runner = containers["drill-runner"]
    assert runner["entryPoint"] == ["crmdr"]
    assert runner["command"][:6] == ["drill", "run", "--type", "restore-test", "--tier", "gold"]
    environment = {item["name"]: item["value"] for item in runner["environment"]}
    assert environment["CRMDR_INVENTORY"] == "/inputs/inventory.json"
    assert containers["publish-reports"]["essential"] is True  # reports are published whatever the verdict


def test_an_existing_vpc_is_joined_instead_of_created() -> None:
    existing = json.dumps(
        {
            "id": "vpc-0abc",
            "privateSubnetIds": ["subnet-01", "subnet-02"],
            "publicSubnetIds": ["subnet-03", "subnet-04"],
        }
    )
    run = preview(existingVpc=existing)
    assert [vpc.region for vpc in run.of_type("aws:ec2/vpc:Vpc")] == [DR]
    subnets = run.named("aws:rds/subnetGroup:SubnetGroup", "primary-crm-db-subnets")
    assert subnets.inputs["subnetIds"] == ["subnet-01", "subnet-02"]
    groups = [g for g in run.of_type("aws:ec2/securityGroup:SecurityGroup") if g.region == PRIMARY]
    assert {g.inputs["vpcId"] for g in groups} == {"vpc-0abc"}


def test_a_given_hosted_zone_is_used_instead_of_a_new_one() -> None:
    run = preview(hostedZoneId="Z0123456789ABC")
    assert run.of_type("aws:route53/zone:Zone") == []
    assert {record.inputs["zoneId"] for record in run.of_type(RECORD)} == {"Z0123456789ABC"}
    assert run.outputs["dr_inventory"]["dns"]["zone_id"] == "Z0123456789ABC"
