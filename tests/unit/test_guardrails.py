"""Guardrail rules on compliant and violating resources: plain data in, a reason out."""

from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from policies.guardrails import (
    RESOURCE_RULES,
    STACK_RULES,
    GuardrailContext,
    ResourceView,
    evaluate,
    rule_names,
    strategy_limitation,
    violations,
)
from policies.guardrails.iam import destructive_actions
from policies.schedules import backup_cron, longest_gap, rate_expression
from policies.sla import load_policy

pytestmark = pytest.mark.unit

POLICY = load_policy(None)
GOLD = GuardrailContext("gold", POLICY.tier("gold"), primary_region="eu-west-1", strategy="warm-standby")
RULES = {rule.name: rule for rule in RESOURCE_RULES}
STACK = {rule.name: rule for rule in STACK_RULES}


def view(kind: str, region: str = "eu-central-1", /, **props: Any) -> ResourceView:
    return ResourceView(type=kind, name="r", region=region, props=props)


def reason(
    rule_name: str, kind: str, region: str = "eu-central-1", ctx: GuardrailContext = GOLD, /, **props: Any
) -> str | None:
    assert kind in RULES[rule_name].types
    return RULES[rule_name].check(view(kind, region, **props), ctx)


RDS = "aws:rds/instance:Instance"
PLAN = "aws:backup/plan:Plan"
LOCK = "aws:backup/vaultLockConfiguration:VaultLockConfiguration"
OBJECT_LOCK = "aws:s3/bucketObjectLockConfigurationV2:BucketObjectLockConfigurationV2"
RECORD = "aws:route53/record:Record"
CHECK = "aws:route53/healthCheck:HealthCheck"
DR_VAULT = "arn:aws:backup:eu-central-1:123456789012:backup-vault:dr"


def plan_rule(**overrides: Any) -> dict[str, Any]:
    rule = {
        "ruleName": "gold",
        "schedule": "cron(0 * * * ? *)",
        "lifecycle": {"deleteAfter": 35},
        "copyActions": [{"destinationVaultArn": DR_VAULT, "lifecycle": {"deleteAfter": 35}}],
    }
    return {**rule, **overrides}


@pytest.mark.parametrize(
    ("rule", "kind", "region", "good", "bad", "says"),
    [
        ("rds-encrypted", RDS, "eu-west-1", {"storageEncrypted": True}, {"storageEncrypted": False}, "not encrypted"),
        ("rds-deletion-protection", RDS, "eu-west-1", {"deletionProtection": True}, {}, "deletion protection is off"),
        ("rds-multi-az", RDS, "eu-west-1", {"multiAz": True}, {"multiAz": False}, "single-AZ"),
        (
            "rds-backup-retention",
            RDS,
            "eu-west-1",
            {"backupRetentionPeriod": 35},
            {"backupRetentionPeriod": 7},
            "needs 35",
        ),
        (
            "rds-backup-replication-retention",
            "aws:rds/instanceAutomatedBackupsReplication:InstanceAutomatedBackupsReplication",
            "eu-central-1",
            {"retentionPeriod": 35},
            {"retentionPeriod": 14},
            "needs 35",
        ),
        (
            "backup-plan-retention",
            PLAN,
            "eu-west-1",
            {"rules": [plan_rule()]},
            {"rules": [plan_rule(copyActions=[{"destinationVaultArn": DR_VAULT, "lifecycle": {"deleteAfter": 7}}])]},
            "(off-site copy) deletes recovery points after 7",
        ),
        (
            "backup-plan-offsite-copy",
            PLAN,
            "eu-west-1",
            {"rules": [plan_rule()]},
            {"rules": [plan_rule(copyActions=[])]},
            "makes no off-site copy",
        ),
        (
            "backup-plan-offsite-copy",
            PLAN,
            "eu-central-1",
            {
                "rules": [
                    plan_rule(copyActions=[{"destinationVaultArn": DR_VAULT.replace("eu-central-1", "eu-west-1")}])
                ]
            },
            {"rules": [plan_rule()]},
            "copies into its own region",
        ),
        (
            "backup-plan-frequency",
            PLAN,
            "eu-west-1",
            {"rules": [plan_rule()]},
            {"rules": [plan_rule(schedule="cron(0 5 * * ? *)")]},
            "runs every 1d",
        ),
        (
            "backup-vault-encrypted",
            "aws:backup/vault:Vault",
            "eu-west-1",
            {"kmsKeyArn": "arn:aws:kms:x"},
            {},
            "AWS-managed key",
        ),
        ("vault-lock", LOCK, "eu-central-1", {"minRetentionDays": 35}, {"minRetentionDays": 30}, "after 30 day(s)"),
        (
            "s3-versioning",
            "aws:s3/bucketVersioningV2:BucketVersioningV2",
            "eu-west-1",
            {"versioningConfiguration": {"status": "Enabled"}},
            {"versioningConfiguration": {"status": "Suspended"}},
            "Suspended",
        ),
        (
            "s3-encryption",
            "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2",
            "eu-west-1",
            {"rules": [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": "k"}}]},
            {"rules": [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"}}]},
            "not SSE-KMS",
        ),
        (
            "s3-object-lock",
            OBJECT_LOCK,
            "eu-central-1",
            {"objectLockEnabled": "Enabled", "rule": {"defaultRetention": {"mode": "GOVERNANCE", "days": 35}}},
            {"objectLockEnabled": "Enabled", "rule": {"defaultRetention": {"mode": "GOVERNANCE", "days": 10}}},
            "locked for 10 day(s)",
        ),
        (
            "s3-public-access-block",
            "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
            "eu-west-1",
            dict.fromkeys(("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"), True),
            {"blockPublicAcls": True},
            "blockPublicPolicy",
        ),
        ("dns-ttl", RECORD, "eu-central-1", {"ttl": 60}, {"ttl": 300}, "TTL 300s"),
        (
            "dns-failover-health-check",
            RECORD,
            "eu-central-1",
            {"failoverRoutingPolicies": [{"type": "PRIMARY"}], "healthCheckId": "hc"},
            {"failoverRoutingPolicies": [{"type": "PRIMARY"}]},
            "no health check",
        ),
        (
            "dns-health-check-data-plane",
            CHECK,
            "eu-central-1",
            {"type": "CLOUDWATCH_METRIC", "cloudwatchAlarmRegion": "eu-central-1"},
            {"type": "HTTPS"},
            "follows the endpoint",
        ),
        (
            "dns-health-check-data-plane",
            CHECK,
            "eu-central-1",
            {"type": "RECOVERY_CONTROL"},
            {"type": "CLOUDWATCH_METRIC", "cloudwatchAlarmRegion": "eu-west-1"},
            "primary region",
        ),
        ("kms-key-rotation", "aws:kms/key:Key", "eu-central-1", {"enableKeyRotation": True}, {}, "rotation is off"),
        (
            "iam-protects-recovery-points",
            "aws:iam/rolePolicy:RolePolicy",
            "eu-central-1",
            {"policy": '{"Statement": [{"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "*"}]}'},
            {"policy": '{"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}'},
            "s3:*",
        ),
    ],
)
def test_rule_passes_the_compliant_resource_and_names_the_violation(
    rule: str, kind: str, region: str, good: dict[str, Any], bad: dict[str, Any], says: str
) -> None:
    assert reason(rule, kind, region, **good) is None
    found = reason(rule, kind, region, **bad)
    assert found is not None and says in found


def test_read_replicas_are_not_held_to_multi_az_or_their_own_backup_retention() -> None:
    replica = {"replicateSourceDb": "arn:aws:rds:eu-west-1:1:db:p", "multiAz": False, "backupRetentionPeriod": 0}
    assert reason("rds-multi-az", RDS, **replica) is None
    assert reason("rds-backup-retention", RDS, **replica) is None


def test_a_compliance_tier_needs_a_compliance_mode_lock() -> None:
    strict = GuardrailContext("strict", POLICY.tier("gold").model_copy(update={"object_lock_mode": "COMPLIANCE"}))
    governance = {"objectLockEnabled": "Enabled", "rule": {"defaultRetention": {"mode": "GOVERNANCE", "days": 35}}}
    assert "requires COMPLIANCE" in str(reason("s3-object-lock", OBJECT_LOCK, "eu-central-1", strict, **governance))
    assert "compliance mode" in str(reason("vault-lock", LOCK, "eu-central-1", strict, minRetentionDays=35))
    assert reason("vault-lock", LOCK, "eu-central-1", strict, minRetentionDays=35, changeableForDays=3) is None


def _stack(**extra: list[ResourceView]) -> list[ResourceView]:
    return [
        view(LOCK, "eu-central-1", minRetentionDays=35),
        view(OBJECT_LOCK, "eu-central-1"),
        view("aws:s3/bucketReplicationConfig:BucketReplicationConfig", "eu-west-1", rules=[{"status": "Enabled"}]),
        view(RDS, "eu-west-1"),
        view("aws:rds/instanceAutomatedBackupsReplication:InstanceAutomatedBackupsReplication", "eu-central-1"),
        view(RDS, "eu-central-1", replicateSourceDb="arn:aws:rds:eu-west-1:1:db:p"),
        view("aws:autoscaling/group:Group", "eu-central-1", desiredCapacity=1),
        view(RECORD, failoverRoutingPolicies=[{"type": "PRIMARY"}]),
        view(RECORD, failoverRoutingPolicies=[{"type": "SECONDARY"}]),
    ]


def test_stack_rules_pass_a_complete_stack_and_name_what_is_missing() -> None:
    complete = _stack()
    assert [name for name, rule in STACK.items() if rule.check(complete, GOLD)] == []
    for missing, name, says in [
        (LOCK, "offsite-backup-vault", "no locked backup vault"),
        (OBJECT_LOCK, "offsite-object-lock", "no Object Lock bucket"),
        ("aws:s3/bucketReplicationConfig:BucketReplicationConfig", "attachments-replicated", "no enabled S3"),
        (
            "aws:rds/instanceAutomatedBackupsReplication:InstanceAutomatedBackupsReplication",
            "rds-backups-replicated",
            "not replicated",
        ),
        ("aws:autoscaling/group:Group", "standby-matches-strategy", "running (scaled-down) app tier"),
    ]:
        partial = [resource for resource in complete if resource["type"] != missing]
        assert says in str(STACK[name].check(partial, GOLD)), name


def test_a_lock_in_the_primary_region_is_not_off_site() -> None:
    resources = [view(LOCK, "eu-west-1", minRetentionDays=35)]
    assert STACK["offsite-backup-vault"].check(resources, GOLD) is not None


def test_strategies_that_cannot_meet_a_tier_are_named() -> None:
    assert strategy_limitation("warm-standby", "gold", POLICY.tier("gold")) is None
    assert strategy_limitation("pilot-light", "silver", POLICY.tier("silver")) is None
    assert strategy_limitation("backup-restore", "bronze", POLICY.tier("bronze")) is None
    assert "RTO of about 30m" in str(strategy_limitation("pilot-light", "gold", POLICY.tier("gold")))
    assert "RTO of about 4h" in str(strategy_limitation("backup-restore", "silver", POLICY.tier("silver")))


def test_evaluate_gives_one_verdict_per_matching_resource_and_per_stack_rule() -> None:
    resources = [*_stack(), view(RDS, "eu-west-1", storageEncrypted=False)]
    verdicts = evaluate(resources, GOLD)
    assert len([v for v in verdicts if v.rule == "rds-encrypted"]) == 3
    assert len([v for v in verdicts if v.resource is None]) == len(STACK_RULES)
    assert {v.rule for v in violations(verdicts)} >= {"rds-encrypted", "rds-deletion-protection"}
    assert set(rule_names()) >= {v.rule for v in verdicts}


@pytest.mark.parametrize(
    ("actions", "offending"),
    [
        (["s3:GetObject", "backup:StartRestoreJob"], []),
        (["*"], ["*"]),
        (["rds:Delete*"], ["rds:Delete*"]),
        (["s3:deleteobjectversion"], ["s3:deleteobjectversion"]),
        (["backup:PutBackupVaultLockConfiguration"], ["backup:PutBackupVaultLockConfiguration"]),
        (["rds:DeleteDBInstance", "dynamodb:DeleteItem"], []),
    ],
)
def test_destructive_actions_see_through_wildcards_and_case(actions: list[str], offending: list[str]) -> None:
    document = {"Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}]}
    assert destructive_actions(document) == sorted(offending)


def test_deny_statements_grant_nothing_and_not_action_is_always_suspect() -> None:
    deny = {"Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*"}]}
    assert destructive_actions(deny) == []
    broad = {"Statement": {"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}}
    assert destructive_actions(broad) == ["NotAction:iam:*"]


@given(st.integers(min_value=3600, max_value=400 * 86400))
def test_a_backup_cron_never_leaves_a_longer_gap_than_asked(seconds: int) -> None:
    frequency = timedelta(seconds=seconds)
    gap = longest_gap(backup_cron(frequency))
    assert gap is not None and gap <= frequency


@given(st.integers(min_value=60, max_value=400 * 86400))
def test_a_rate_expression_reads_back_within_a_minute_of_the_cadence(seconds: int) -> None:
    every = timedelta(seconds=seconds)
    gap = longest_gap(rate_expression(every))
    assert gap is not None and every - timedelta(minutes=1) < gap <= every


def test_schedules_reject_what_the_services_cannot_do() -> None:
    with pytest.raises(ValueError, match="at most hourly"):
        backup_cron(timedelta(minutes=30))
    with pytest.raises(ValueError, match="every minute"):
        rate_expression(timedelta(seconds=30))
    assert rate_expression(timedelta(days=1)) == "rate(1 day)"
    assert backup_cron(timedelta(hours=6)) == "cron(0 */6 * * ? *)"
    assert longest_gap("cron(0 5 ? * SUN *)") == timedelta(days=7)
    assert longest_gap("cron(*/5 * * * ? *)") is None
