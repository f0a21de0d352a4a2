"""The standby in the DR region, shaped by the strategy.

- backup-restore: no database yet (recovery restores one from the DR vault), app tier at zero;
- pilot-light: a cross-region read replica, app tier at zero (scaled up on failover);
- warm-standby: a Multi-AZ read replica and a running, scaled-down app tier.
The load balancer exists in every case so the failover DNS name always has a target.
"""

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.apptier import AppTier, AppTierArgs
from infra.crm import database_subnets
from infra.network import Network
from infra.settings import Deployment


def standby_capacity(deployment: Deployment) -> tuple[int, int]:
    """(min, desired) instances of the DR app tier: only warm standby keeps servers running."""
    if deployment.settings.strategy == "warm-standby":
        capacity = deployment.settings.standby_app_capacity
        return capacity, capacity
    return 0, 0


@dataclass(frozen=True)
class StandbyArgs:
    deployment: Deployment
    network: Network
    kms_key_arn: pulumi.Input[str]
    source_db_arn: pulumi.Input[str]
    db_secret_arn: pulumi.Input[str]


class Standby(pulumi.ComponentResource):
    """Read replica (pilot light, warm standby) and the DR app tier."""

    replica: aws.rds.Instance | None
    app: AppTier
    instance_id: str

    def __init__(self, name: str, args: StandbyArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("crm-dr:infra:Standby", name, None, opts)
        deployment, settings = args.deployment, args.deployment.settings
        self.instance_id = f"{deployment.prefix}-standby"
        self.replica = None
        if settings.strategy != "backup-restore":
            self.replica = self._replica(name, args)
        low, desired = standby_capacity(deployment)
        self.app = AppTier(
            f"{name}-app",
            AppTierArgs(
                network=args.network,
                instance_type=settings.app_instance_type,
                min_size=low,
                max_size=settings.app_max_size,
                desired_capacity=desired,
                port=settings.app_port,
                health_check_path=settings.app_health_check_path,
                ami_parameter=settings.app_ami_parameter,
                db_host=settings.db_record,
                db_secret_arn=args.db_secret_arn,
                kms_key_arn=args.kms_key_arn,
                certificate_arn=settings.dr_certificate_arn,
                deletion_protection=settings.environment == "production",
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs(
            {
                "replica_address": self.replica.address if self.replica else None,
                "app_dns_name": self.app.dns_name,
            }
        )

    def _replica(self, name: str, args: StandbyArgs) -> aws.rds.Instance:
        """Cross-region read replica, encrypted with the DR key, deletion-protected."""
        settings = args.deployment.settings
        subnets = database_subnets(name, args.network, settings.db_engine_version, self)
        return aws.rds.Instance(
            f"{name}-db",
            identifier=self.instance_id,
            replicate_source_db=args.source_db_arn,
            instance_class=settings.standby_db_instance_class or settings.db_instance_class,
            storage_type="gp3",
            storage_encrypted=True,
            kms_key_id=args.kms_key_arn,
            multi_az=settings.strategy == "warm-standby",
            deletion_protection=True,
            skip_final_snapshot=True,
            copy_tags_to_snapshot=True,
            db_subnet_group_name=subnets.subnet_group.name,
            parameter_group_name=subnets.parameters.name,
            vpc_security_group_ids=[args.network.db_sg_id],
            publicly_accessible=False,
            performance_insights_enabled=True,
            performance_insights_kms_key_id=args.kms_key_arn,
            auto_minor_version_upgrade=True,
            opts=pulumi.ResourceOptions(parent=self),
        )
