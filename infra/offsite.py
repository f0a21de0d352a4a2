"""Off-site backups: what lands in the DR region, and what the primary region sends there.

`OffsiteStore` (DR region) holds the locked copies: the backup bucket, the replica of the
attachments, the AWS Backup vault under Vault Lock and the replicated RDS automated backups.
`PrimaryBackup` (primary region) sends them: an AWS Backup plan whose every rule copies to
the DR vault, and S3 replication of the attachments. Two components, one per region, so each
is an ordinary single-provider component.
"""

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.buckets import BucketLock, SecureBucket, secure_bucket
from infra.iam import assume_role_policy, replication_policy
from infra.settings import Deployment

BACKUP_SERVICE_POLICIES = (
    "arn:aws:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForBackup",
    "arn:aws:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForRestores",
    "arn:aws:iam::aws:policy/AWSBackupServiceRolePolicyForS3Backup",
    "arn:aws:iam::aws:policy/AWSBackupServiceRolePolicyForS3Restore",
)
BACKUP_START_WINDOW_MINUTES = 60
BACKUP_COMPLETION_WINDOW_MINUTES = 24 * 60


@dataclass(frozen=True)
class OffsiteStoreArgs:
    deployment: Deployment
    kms_key_arn: pulumi.Input[str]
    source_db_arn: pulumi.Input[str]


class OffsiteStore(pulumi.ComponentResource):
    """The DR region's locked copies."""

    backup_bucket: SecureBucket
    attachments_replica: SecureBucket
    vault: aws.backup.Vault

    def __init__(self, name: str, args: OffsiteStoreArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("crm-dr:infra:OffsiteStore", name, None, opts)
        deployment = args.deployment
        child = pulumi.ResourceOptions(parent=self)
        lock = BucketLock(mode=deployment.lock_mode, days=deployment.retention_days)
        self.backup_bucket = secure_bucket(f"{name}-backups", kms_key_arn=args.kms_key_arn, parent=self, lock=lock)
        self.attachments_replica = secure_bucket(
            f"{name}-attachments", kms_key_arn=args.kms_key_arn, parent=self, lock=lock
        )
        self.vault = aws.backup.Vault(f"{name}-vault", kms_key_arn=args.kms_key_arn, opts=child)
        compliance = deployment.lock_mode == "COMPLIANCE"
        aws.backup.VaultLockConfiguration(
            f"{name}-vault-lock",
            backup_vault_name=self.vault.name,
            min_retention_days=deployment.retention_days,
            changeable_for_days=(deployment.settings.vault_lock_cooling_off_days if compliance else None),
            opts=child,
        )
        aws.rds.InstanceAutomatedBackupsReplication(
            f"{name}-rds-backups",
            source_db_instance_arn=args.source_db_arn,
            kms_key_id=args.kms_key_arn,
            retention_period=deployment.rds_retention_days,
            opts=child,
        )
        self.register_outputs(
            {
                "backup_bucket": self.backup_bucket.name,
                "attachments_replica": self.attachments_replica.name,
                "vault_arn": self.vault.arn,
            }
        )


@dataclass(frozen=True)
class PrimaryBackupArgs:
    deployment: Deployment
    kms_key_arn: pulumi.Input[str]
    dr_kms_key_arn: pulumi.Input[str]
    dr_vault_arn: pulumi.Input[str]
    db_arn: pulumi.Input[str]
    attachments: SecureBucket
    attachments_replica: SecureBucket


class PrimaryBackup(pulumi.ComponentResource):
    """The primary region's vault and plan, and the attachments' replication."""

    backup_role_arn: pulumi.Output[str]

    def __init__(self, name: str, args: PrimaryBackupArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("crm-dr:infra:PrimaryBackup", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        role = aws.iam.Role(f"{name}-role", assume_role_policy=assume_role_policy("backup.amazonaws.com"), opts=child)
        for index, policy_arn in enumerate(BACKUP_SERVICE_POLICIES):
            aws.iam.RolePolicyAttachment(f"{name}-role-{index}", role=role.name, policy_arn=policy_arn, opts=child)
        self.backup_role_arn = role.arn
        vault = aws.backup.Vault(f"{name}-vault", kms_key_arn=args.kms_key_arn, opts=child)
        plan = self._plan(name, args.deployment, vault, args.dr_vault_arn)
        aws.backup.Selection(
            f"{name}-selection",
            plan_id=plan.id,
            iam_role_arn=role.arn,
            resources=[args.db_arn, args.attachments.arn],
            opts=child,
        )
        self._replicate_attachments(name, args)
        self.register_outputs({"backup_role_arn": self.backup_role_arn, "plan_id": plan.id})

    def _plan(
        self,
        name: str,
        deployment: Deployment,
        vault: aws.backup.Vault,
        dr_vault_arn: pulumi.Input[str],
    ) -> aws.backup.Plan:
        """One rule at the tier's frequency; every recovery point is copied to the DR vault."""
        keep = aws.backup.PlanRuleLifecycleArgs(delete_after=deployment.retention_days)
        return aws.backup.Plan(
            f"{name}-plan",
            rules=[
                aws.backup.PlanRuleArgs(
                    rule_name=f"{deployment.tier_name}-offsite",
                    target_vault_name=vault.name,
                    schedule=deployment.backup_schedule,
                    start_window=BACKUP_START_WINDOW_MINUTES,
                    completion_window=BACKUP_COMPLETION_WINDOW_MINUTES,
                    lifecycle=keep,
                    copy_actions=[
                        aws.backup.PlanRuleCopyActionArgs(
                            destination_vault_arn=dr_vault_arn,
                            lifecycle=aws.backup.PlanRuleCopyActionLifecycleArgs(
                                delete_after=deployment.retention_days
                            ),
                        )
                    ],
                    recovery_point_tags={"crm-dr:tier": deployment.tier_name},
                )
            ],
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _replicate_attachments(self, name: str, args: PrimaryBackupArgs) -> None:
        """Every new attachment version is copied off-site; deletions are not."""
        child = pulumi.ResourceOptions(parent=self)
        role = aws.iam.Role(
            f"{name}-replication-role",
            assume_role_policy=assume_role_policy("s3.amazonaws.com"),
            opts=child,
        )
        aws.iam.RolePolicy(
            f"{name}-replication-policy",
            role=role.id,
            policy=pulumi.Output.all(
                args.attachments.arn,
                args.attachments_replica.arn,
                args.kms_key_arn,
                args.dr_kms_key_arn,
            ).apply(lambda arns: json.dumps(replication_policy(*arns))),
            opts=child,
        )
        aws.s3.BucketReplicationConfig(
            f"{name}-replication",
            bucket=args.attachments.bucket.id,
            role=role.arn,
            rules=[_replication_rule(args)],
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=[args.attachments.versioning, args.attachments_replica.versioning],
            ),
        )


def _replication_rule(args: PrimaryBackupArgs) -> aws.s3.BucketReplicationConfigRuleArgs:
    """Everything, SSE-KMS objects included, re-encrypted under the DR key; no delete markers."""
    s3 = aws.s3
    return s3.BucketReplicationConfigRuleArgs(
        id="attachments-offsite",
        status="Enabled",
        filter=s3.BucketReplicationConfigRuleFilterArgs(prefix=""),
        delete_marker_replication=s3.BucketReplicationConfigRuleDeleteMarkerReplicationArgs(status="Disabled"),
        source_selection_criteria=s3.BucketReplicationConfigRuleSourceSelectionCriteriaArgs(
            sse_kms_encrypted_objects=s3.BucketReplicationConfigRuleSourceSelectionCriteriaSseKmsEncryptedObjectsArgs(
                status="Enabled"
            )
        ),
        destination=s3.BucketReplicationConfigRuleDestinationArgs(
            bucket=args.attachments_replica.arn,
            storage_class="STANDARD_IA",
            encryption_configuration=s3.BucketReplicationConfigRuleDestinationEncryptionConfigurationArgs(
                replica_kms_key_id=args.dr_kms_key_arn
            ),
        ),
    )
