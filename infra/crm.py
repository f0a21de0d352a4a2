"""The primary CRM stack: PostgreSQL on RDS, the app tier and the attachments bucket.

RDS is Multi-AZ (an AZ outage stays inside the region), encrypted with the primary region's
replica of the backup key, protected against deletion, and keeps automated backups as long
as the tier asks (RDS caps this at 35 days; AWS Backup keeps longer history).
"""

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.apptier import AppTier, AppTierArgs
from infra.buckets import SecureBucket, secure_bucket
from infra.network import Network
from infra.settings import Deployment

BACKUP_WINDOW = "03:00-04:00"
MAINTENANCE_WINDOW = "sun:04:30-sun:05:30"


def parameter_family(engine_version: str) -> str:
    """`15` or `15.4` -> `postgres15`."""
    return f"postgres{engine_version.split('.', maxsplit=1)[0]}"


@dataclass(frozen=True)
class DatabaseSubnets:
    """Subnet group and parameter group a PostgreSQL instance of this region uses."""

    subnet_group: aws.rds.SubnetGroup
    parameters: aws.rds.ParameterGroup


def database_subnets(name: str, network: Network, engine_version: str, parent: pulumi.Resource) -> DatabaseSubnets:
    """The regional plumbing an RDS instance needs; TLS is enforced for every connection."""
    child = pulumi.ResourceOptions(parent=parent)
    subnet_group = aws.rds.SubnetGroup(f"{name}-db-subnets", subnet_ids=network.private_subnet_ids, opts=child)
    parameters = aws.rds.ParameterGroup(
        f"{name}-db-params",
        family=parameter_family(engine_version),
        parameters=[
            aws.rds.ParameterGroupParameterArgs(name="rds.force_ssl", value="1"),
            aws.rds.ParameterGroupParameterArgs(name="log_min_duration_statement", value="1000"),
        ],
        opts=child,
    )
    return DatabaseSubnets(subnet_group, parameters)


@dataclass(frozen=True)
class CrmStackArgs:
    deployment: Deployment
    network: Network
    kms_key_arn: pulumi.Input[str]
    db_password: pulumi.Input[str]
    db_secret_arn: pulumi.Input[str]


class CrmStack(pulumi.ComponentResource):
    """Everything the CRM runs on in the primary region."""

    database: aws.rds.Instance
    attachments: SecureBucket
    app: AppTier

    def __init__(self, name: str, args: CrmStackArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("crm-dr:infra:CrmStack", name, None, opts)
        deployment, settings = args.deployment, args.deployment.settings
        self.database = self._database(name, args)
        self.attachments = secure_bucket(f"{name}-attachments", kms_key_arn=args.kms_key_arn, parent=self)
        self.app = AppTier(
            f"{name}-app",
            AppTierArgs(
                network=args.network,
                instance_type=settings.app_instance_type,
                min_size=settings.app_min_size,
                max_size=settings.app_max_size,
                desired_capacity=settings.app_desired_capacity,
                port=settings.app_port,
                health_check_path=settings.app_health_check_path,
                ami_parameter=settings.app_ami_parameter,
                db_host=settings.db_record,
                db_secret_arn=args.db_secret_arn,
                kms_key_arn=args.kms_key_arn,
                certificate_arn=settings.primary_certificate_arn,
                deletion_protection=deployment.settings.environment == "production",
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs(
            {
                "db_address": self.database.address,
                "db_arn": self.database.arn,
                "attachments_bucket": self.attachments.name,
                "app_dns_name": self.app.dns_name,
            }
        )

    def _database(self, name: str, args: CrmStackArgs) -> aws.rds.Instance:
        deployment, settings = args.deployment, args.deployment.settings
        subnets = database_subnets(name, args.network, settings.db_engine_version, self)
        identifier = f"{deployment.prefix}-primary"
        return aws.rds.Instance(
            f"{name}-db",
            identifier=identifier,
            engine="postgres",
            engine_version=settings.db_engine_version,
            instance_class=settings.db_instance_class,
            allocated_storage=settings.db_allocated_storage,
            max_allocated_storage=settings.db_allocated_storage * 4,
            storage_type="gp3",
            storage_encrypted=True,
            kms_key_id=args.kms_key_arn,
            multi_az=True,
            deletion_protection=True,
            backup_retention_period=deployment.rds_retention_days,
            backup_window=BACKUP_WINDOW,
            maintenance_window=MAINTENANCE_WINDOW,
            copy_tags_to_snapshot=True,
            skip_final_snapshot=False,
            final_snapshot_identifier=f"{identifier}-final",
            db_name=settings.db_name,
            username=settings.db_username,
            password=args.db_password,
            db_subnet_group_name=subnets.subnet_group.name,
            parameter_group_name=subnets.parameters.name,
            vpc_security_group_ids=[args.network.db_sg_id],
            publicly_accessible=False,
            iam_database_authentication_enabled=True,
            enabled_cloudwatch_logs_exports=["postgresql"],
            performance_insights_enabled=True,
            performance_insights_kms_key_id=args.kms_key_arn,
            auto_minor_version_upgrade=True,
            opts=pulumi.ResourceOptions(parent=self),
        )
