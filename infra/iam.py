"""IAM policy documents as plain data, built from resolved ARNs (pure: no Pulumi import).

The drill runner is the identity most worth constraining: it runs unattended on a schedule,
so it may read, copy and restore recovery points, but never delete one, shorten a retention
or lift a lock (Code Spaces 2014: whoever could delete production could delete the backups).
The only deletions it may make are its own scratch restores (so drills do not leak cost)
and lease rows in the lock table. It writes new, locked objects (reports, journals): in a
versioned Object Lock bucket a write adds a version and cannot shorten an existing lock.
"""

import json
import re
from dataclasses import dataclass
from typing import Any

Document = dict[str, Any]

DRILL_METRICS_NAMESPACE = "CrmDr/Drills"
# What a drill writes next to the recovery points (relative to the backup prefix): verification
# results, journal mirrors and report copies. Never a manifest nor a point's objects: a newer
# version of either would be read as the current one, whatever Object Lock keeps underneath.
EVIDENCE_KEYS = ("points/*/verifications/*", "runs/*", "drill-reports/*")
FAILOVER_METRICS_NAMESPACE = "CrmDr/Failover"


def document(*statements: Document) -> Document:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def statement(sid: str, actions: list[str], resources: list[str], **extra: Any) -> Document:
    return {"Sid": sid, "Effect": "Allow", "Action": sorted(actions), "Resource": resources, **extra}


def assume_role_policy(service: str) -> str:
    """Trust policy letting one AWS service assume the role."""
    return json.dumps(
        document(
            {
                "Effect": "Allow",
                "Principal": {"Service": service},
                "Action": "sts:AssumeRole",
            }
        )
    )


def arn_parts(arn: str) -> tuple[str, str, str]:
    """(partition, region, account) of an ARN such as a DynamoDB table's."""
    parts = arn.split(":")
    if len(parts) < 6 or parts[0] != "arn":
        raise ValueError(f"not an ARN: {arn!r}")
    return parts[1], parts[3], parts[4]


def in_region(arn: str, region: str) -> str:
    """The same ARN in another region (a replicated secret or key keeps its name and suffix)."""
    arn_parts(arn)  # raises on anything that is not an ARN
    parts = arn.split(":")
    return ":".join([*parts[:3], region, *parts[4:]])


@dataclass(frozen=True)
class RunnerScope:
    """What the drill runner touches, as ARNs resolved by the program."""

    backup_bucket_arn: str
    attachments_replica_arn: str
    report_bucket_arn: str
    kms_key_arn: str
    lock_table_arn: str
    topic_arn: str
    db_secret_arn: str
    signing_key_secret_arn: str
    backup_role_arn: str
    backup_prefix: str
    scratch_prefix: str
    replica_arn: str | None = None
    allow_failover: bool = False
    status_bucket_arn: str | None = None  # the status page's bucket: drills write only its drill location
    status_key_arn: str | None = None
    status_prefix: str = "status/"


def drill_runner_policy(scope: RunnerScope) -> Document:
    """Least privilege for `crmdr drill run`: read, copy, restore; no deletion of evidence."""
    statements = [
        *_evidence_statements(scope),
        *_restore_statements(scope),
        *_coordination_statements(scope),
        *_drill_status_statements(scope),
    ]
    namespaces = [DRILL_METRICS_NAMESPACE]
    if scope.allow_failover and scope.replica_arn:
        statements.append(statement("PromoteStandby", ["rds:PromoteReadReplica"], [scope.replica_arn]))
        namespaces.append(FAILOVER_METRICS_NAMESPACE)
    statements.append(
        statement(
            "PublishMetrics",
            ["cloudwatch:PutMetricData"],
            ["*"],
            Condition={"StringEquals": {"cloudwatch:namespace": namespaces}},
        )
    )
    return document(*statements)


def _evidence_statements(scope: RunnerScope) -> list[Document]:
    buckets = [scope.backup_bucket_arn, scope.attachments_replica_arn, scope.report_bucket_arn]
    return [
        statement("ReadRecoveryPoints", _S3_READ, [*buckets, *(f"{arn}/*" for arn in buckets)]),
        statement(
            "WriteEvidence",
            ["s3:PutObject", "s3:PutObjectRetention"],
            [f"{scope.report_bucket_arn}/*",
             *(f"{scope.backup_bucket_arn}/{scope.backup_prefix}{keys}" for keys in EVIDENCE_KEYS)],
        ),
        statement(
            "UseBackupKey",
            ["kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKey"],
            [scope.kms_key_arn],
        ),
    ]


def _drill_status_statements(scope: RunnerScope) -> list[Document]:
    """A drill's customer notices go to the drill-marked prefix only: the runner cannot alarm customers."""
    if not scope.status_bucket_arn:
        return []
    drill = f"{scope.status_prefix}drill/"
    found = [statement("DrillStatusLocation", ["s3:GetObject", "s3:PutObject"],
                       [f"{scope.status_bucket_arn}/{drill}*"]),
             statement("ListDrillStatusLocation", ["s3:ListBucket"], [scope.status_bucket_arn],
                       Condition={"StringLike": {"s3:prefix": [f"{drill}*"]}})]
    if scope.status_key_arn:
        found.append(statement("UseStatusKey", ["kms:Decrypt", "kms:GenerateDataKey"], [scope.status_key_arn]))
    return found


def _restore_statements(scope: RunnerScope) -> list[Document]:
    partition, region, account = arn_parts(scope.lock_table_arn)
    rds = f"arn:{partition}:rds:{region}:{account}"
    return [
        statement("ReadCopyRestoreBackups", _BACKUP_ACTIONS, ["*"]),
        statement(
            "PassRestoreRole",
            ["iam:PassRole"],
            [scope.backup_role_arn],
            Condition={"StringEquals": {"iam:PassedToService": "backup.amazonaws.com"}},
        ),
        statement("DescribeDatabases", _RDS_DESCRIBE, ["*"]),
        statement("RestoreScratchDatabases", _RDS_RESTORE, ["*"]),
        statement(
            "TagScratchDatabases",
            ["rds:AddTagsToResource"],
            [f"{rds}:db:{scope.scratch_prefix}*", f"{rds}:snapshot:{scope.scratch_prefix}*"],
        ),
        statement(
            "CleanUpScratchDatabases",
            ["rds:DeleteDBInstance"],
            [f"{rds}:db:{scope.scratch_prefix}*"],
        ),
    ]


def _coordination_statements(scope: RunnerScope) -> list[Document]:
    return [
        statement("LeaseLock", _LOCK_ACTIONS, [scope.lock_table_arn]),
        statement("Notify", ["sns:Publish"], [scope.topic_arn]),
        statement(
            "ReadSecrets",
            ["secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue"],
            [scope.db_secret_arn, scope.signing_key_secret_arn],
        ),
    ]


_S3_READ = [
    "s3:GetBucketObjectLockConfiguration",
    "s3:GetBucketVersioning",
    "s3:GetObject",
    "s3:GetObjectAttributes",
    "s3:GetObjectLegalHold",
    "s3:GetObjectRetention",
    "s3:GetObjectVersion",
    "s3:ListBucket",
    "s3:ListBucketVersions",
]
_LOCK_ACTIONS = [
    "dynamodb:DeleteItem",
    "dynamodb:DescribeTable",
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
]
_BACKUP_ACTIONS = [
    "backup:DescribeBackupJob",
    "backup:DescribeBackupVault",
    "backup:DescribeCopyJob",
    "backup:DescribeRecoveryPoint",
    "backup:DescribeRestoreJob",
    "backup:GetRecoveryPointRestoreMetadata",
    "backup:ListBackupJobs",
    "backup:ListCopyJobs",
    "backup:ListRecoveryPointsByBackupVault",
    "backup:ListRecoveryPointsByResource",
    "backup:ListRestoreJobs",
    "backup:StartCopyJob",
    "backup:StartRestoreJob",
]
_RDS_DESCRIBE = [
    "rds:DescribeDBInstanceAutomatedBackups",
    "rds:DescribeDBInstances",
    "rds:DescribeDBSnapshots",
    "rds:DescribeDBSubnetGroups",
    "rds:ListTagsForResource",
]
_RDS_RESTORE = [
    "rds:CopyDBSnapshot",
    "rds:RestoreDBInstanceFromDBSnapshot",
    "rds:RestoreDBInstanceToPointInTime",
]


def scheduler_policy(task_definition_arn: str, pass_role_arns: list[str]) -> Document:
    """EventBridge Scheduler may start the drill task and hand it its two roles, nothing else."""
    family = re.sub(r":\d+$", "", task_definition_arn)
    return document(
        statement("RunDrillTask", ["ecs:RunTask"], [f"{family}:*"]),
        statement(
            "PassTaskRoles",
            ["iam:PassRole"],
            pass_role_arns,
            Condition={"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}},
        ),
    )


def replication_policy(
    source_bucket_arn: str, destination_bucket_arn: str, source_key_arn: str, destination_key_arn: str
) -> Document:
    """S3 replication of attachments: read versions at the source, write replicas off-site.

    No `s3:ReplicateDelete`: deletions in the primary region must not follow into the copy.
    """
    return document(
        statement(
            "ReadSource",
            ["s3:GetReplicationConfiguration", "s3:ListBucket"],
            [source_bucket_arn],
        ),
        statement(
            "ReadSourceVersions",
            [
                "s3:GetObjectLegalHold",
                "s3:GetObjectRetention",
                "s3:GetObjectVersionAcl",
                "s3:GetObjectVersionForReplication",
                "s3:GetObjectVersionTagging",
            ],
            [f"{source_bucket_arn}/*"],
        ),
        statement(
            "WriteReplicas",
            ["s3:ReplicateObject", "s3:ReplicateTags"],
            [f"{destination_bucket_arn}/*"],
        ),
        statement("DecryptSource", ["kms:Decrypt"], [source_key_arn]),
        statement("EncryptReplica", ["kms:Encrypt", "kms:GenerateDataKey"], [destination_key_arn]),
    )
