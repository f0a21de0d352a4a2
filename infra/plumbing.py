"""Recovery plumbing in the DR region: what a failover needs when the primary region is gone.

The lease lock table (one failover at a time), the notification topic, the database secret
(kept in the DR region, replicated to the primary for the app servers) and the failover
alarm. The alarm is the DR side's switch: `crmdr failover` publishes one data point to it
(CloudWatch, in the DR region), the alarm fires, the PRIMARY DNS records' health check turns
unhealthy and Route 53 answers with the SECONDARY ones. No Route 53 control-plane call, and
`treat_missing_data = ignore` keeps the decision until a failback publishes a 0.
"""

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.iam import FAILOVER_METRICS_NAMESPACE
from infra.settings import Deployment

LOCK_KEY = "lock_id"
LOCK_EXPIRY_ATTRIBUTE = "expires_at"
FAILOVER_METRIC = "FailoverDeclared"


@dataclass(frozen=True)
class RecoveryPlumbingArgs:
    deployment: Deployment
    kms_key_arn: pulumi.Input[str]
    primary_kms_key_arn: pulumi.Input[str]
    db_password: pulumi.Input[str]


class RecoveryPlumbing(pulumi.ComponentResource):
    """Lock table, topic, database secret and the failover alarm."""

    lock_table: aws.dynamodb.Table
    topic: aws.sns.Topic
    secret: aws.secretsmanager.Secret
    failover_alarm: aws.cloudwatch.MetricAlarm

    def __init__(self, name: str, args: RecoveryPlumbingArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("crm-dr:infra:RecoveryPlumbing", name, None, opts)
        deployment = args.deployment
        child = pulumi.ResourceOptions(parent=self)
        self.lock_table = aws.dynamodb.Table(
            f"{name}-lock",
            name=f"{deployment.prefix}-recovery-lock",
            billing_mode="PAY_PER_REQUEST",
            hash_key=LOCK_KEY,
            attributes=[aws.dynamodb.TableAttributeArgs(name=LOCK_KEY, type="S")],
            ttl=aws.dynamodb.TableTtlArgs(attribute_name=LOCK_EXPIRY_ATTRIBUTE, enabled=True),
            server_side_encryption=aws.dynamodb.TableServerSideEncryptionArgs(
                enabled=True, kms_key_arn=args.kms_key_arn
            ),
            deletion_protection_enabled=True,
            opts=child,
        )
        self.topic = aws.sns.Topic(f"{name}-events", name=f"{deployment.prefix}-dr-events", opts=child)
        self.secret = self._database_secret(name, args)
        self.failover_alarm = self._failover_alarm(name, deployment)
        self.register_outputs(
            {
                "lock_table": self.lock_table.name,
                "topic_arn": self.topic.arn,
                "secret_name": self.secret.name,
                "failover_alarm": self.failover_alarm.name,
            }
        )

    def _database_secret(self, name: str, args: RecoveryPlumbingArgs) -> aws.secretsmanager.Secret:
        """Kept in the DR region for recovery, replicated to the primary for the app servers."""
        child = pulumi.ResourceOptions(parent=self)
        deployment = args.deployment
        secret = aws.secretsmanager.Secret(
            f"{name}-db-secret",
            name=f"{deployment.prefix}/db-master",
            description="CRM database master password (recovery reads it in the DR region)",
            kms_key_id=args.kms_key_arn,
            recovery_window_in_days=30,
            replicas=[
                aws.secretsmanager.SecretReplicaArgs(
                    region=deployment.settings.primary_region, kms_key_id=args.primary_kms_key_arn
                )
            ],
            opts=child,
        )
        aws.secretsmanager.SecretVersion(
            f"{name}-db-secret-value",
            secret_id=secret.id,
            secret_string=args.db_password,
            opts=child,
        )
        return secret

    def _failover_alarm(self, name: str, deployment: Deployment) -> aws.cloudwatch.MetricAlarm:
        return aws.cloudwatch.MetricAlarm(
            f"{name}-failover-alarm",
            name=f"{deployment.prefix}-failover-declared",
            alarm_description=("ALARM = the DR side declared a failover: the PRIMARY DNS records turn unhealthy"),
            namespace=FAILOVER_METRICS_NAMESPACE,
            metric_name=FAILOVER_METRIC,
            dimensions={"Stack": deployment.prefix},
            statistic="Maximum",
            period=60,
            evaluation_periods=1,
            threshold=1,
            comparison_operator="GreaterThanOrEqualToThreshold",
            treat_missing_data="ignore",
            alarm_actions=[self.topic.arn],
            ok_actions=[self.topic.arn],
            opts=pulumi.ResourceOptions(parent=self),
        )


@dataclass(frozen=True)
class InventoryCopyArgs:
    bucket: pulumi.Input[str]
    key: str
    kms_key_arn: pulumi.Input[str]
    content: pulumi.Input[str]


class InventoryCopy(pulumi.ComponentResource):
    """The inventory as an object in the DR backup bucket, so recovery needs neither the
    primary region nor the Pulumi state backend to find its way."""

    def __init__(self, name: str, args: InventoryCopyArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("crm-dr:infra:InventoryCopy", name, None, opts)
        document = aws.s3.BucketObjectv2(
            f"{name}-object",
            bucket=args.bucket,
            key=args.key,
            content=args.content,
            content_type="application/json",
            server_side_encryption="aws:kms",
            kms_key_id=args.kms_key_arn,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({"key": document.key})
