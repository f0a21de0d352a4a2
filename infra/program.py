"""The Pulumi program: configuration first, then one component per concern and region.

Order matters only where values flow: the DR region's multi-Region key comes first (the
primary region holds its replica), the primary stack before what copies it, and the
inventory last, once every name it records exists.
"""

import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from infra.crm import CrmStack, CrmStackArgs
from infra.dr_inventory import INVENTORY_KEY, InventoryFacts, build_inventory
from infra.drill_runner import DrillRunner, DrillRunnerArgs
from infra.failover_dns import RESTORE_PENDING, FailoverDns, FailoverDnsArgs, FailoverTarget
from infra.iam import in_region
from infra.intake import DowntimeIntake, DowntimeIntakeArgs
from infra.keys import EncryptionKey, EncryptionKeyArgs
from infra.network import Network, NetworkArgs
from infra.offsite import OffsiteStore, OffsiteStoreArgs, PrimaryBackup, PrimaryBackupArgs
from infra.plumbing import InventoryCopy, InventoryCopyArgs, RecoveryPlumbing, RecoveryPlumbingArgs
from infra.settings import NAMESPACE, PASSWORD_KEY, Deployment, config_keys, load_deployment
from infra.standby import Standby, StandbyArgs
from infra.status_page import STATUS_PREFIX, StatusPage, StatusPageArgs
from policies.errors import ConfigError


def read_configuration() -> tuple[Deployment, pulumi.Output[str]]:
    """Validate the stack configuration before any resource is declared."""
    stack = pulumi.get_stack()
    source = f"Pulumi.{stack}.yaml"
    config = pulumi.Config(NAMESPACE)
    values = {key: value for key in config_keys() if (value := config.get(key)) is not None}
    deployment = load_deployment(values, project=pulumi.get_project(), stack=stack, source=source)
    password = config.get_secret(PASSWORD_KEY)
    if password is None:
        raise ConfigError(
            f"{source}: field '{NAMESPACE}:{PASSWORD_KEY}' is required but missing "
            f"(set it with: pulumi config set --secret {NAMESPACE}:{PASSWORD_KEY})"
        )
    return deployment, password


@dataclass(frozen=True)
class Regions:
    """Resource options that place a component in the primary or the DR region."""

    primary: pulumi.ResourceOptions
    dr: pulumi.ResourceOptions


def regions(deployment: Deployment) -> Regions:
    """One explicit provider per region, tagging everything it creates with the DR context."""

    def provider(role: str, region: str) -> pulumi.ResourceOptions:
        tags = {
            "crm-dr:stack": deployment.prefix,
            "crm-dr:tier": deployment.tier_name,
            "crm-dr:strategy": deployment.settings.strategy,
            "crm-dr:role": role,
        }
        aws_provider = aws.Provider(f"aws-{role}", region=region, default_tags=aws.ProviderDefaultTagsArgs(tags=tags))
        return pulumi.ResourceOptions(providers=[aws_provider])

    settings = deployment.settings
    return Regions(provider("primary", settings.primary_region), provider("dr", settings.dr_region))


@dataclass(frozen=True)
class Stack:
    """The components the exports and the inventory read from."""

    deployment: Deployment
    where: Regions
    dr_key: EncryptionKey
    plumbing: RecoveryPlumbing
    crm: CrmStack
    offsite: OffsiteStore
    standby: Standby
    dns: FailoverDns
    runner: DrillRunner
    status: StatusPage
    intake: DowntimeIntake


@dataclass(frozen=True)
class Foundations:
    """Keys and networks: what every other component of a region builds on."""

    dr_key: EncryptionKey
    primary_key: EncryptionKey
    primary_net: Network
    dr_net: Network


def foundations(deployment: Deployment, where: Regions) -> Foundations:
    """The DR region's multi-Region key first: the primary region holds its replica."""
    settings = deployment.settings
    dr_key = EncryptionKey("dr-key", EncryptionKeyArgs("crm-dr backups (multi-Region primary key)"), where.dr)
    primary_key = EncryptionKey(
        "primary-key",
        EncryptionKeyArgs("crm-dr primary region (replica of the DR key)", replica_of=dr_key.arn),
        where.primary,
    )
    primary_net = Network(
        "primary-network",
        NetworkArgs(settings.primary_vpc_cidr, settings.app_port, settings.existing_vpc),
        where.primary,
    )
    dr_net = Network("dr-network", NetworkArgs(settings.dr_vpc_cidr, settings.app_port), where.dr)
    return Foundations(dr_key, primary_key, primary_net, dr_net)


def declare(deployment: Deployment, password: pulumi.Output[str]) -> Stack:
    """Every component, in dependency order."""
    settings, where = deployment.settings, regions(deployment)
    base = foundations(deployment, where)
    dr_key, primary_key, dr_net = base.dr_key, base.primary_key, base.dr_net
    plumbing = RecoveryPlumbing(
        "dr-recovery",
        RecoveryPlumbingArgs(deployment, dr_key.arn, primary_key.arn, password),
        where.dr,
    )
    crm = CrmStack(
        "primary-crm",
        CrmStackArgs(
            deployment,
            base.primary_net,
            primary_key.arn,
            password,
            plumbing.secret.arn.apply(lambda arn: in_region(arn, settings.primary_region)),
        ),
        where.primary,
    )
    offsite = OffsiteStore("dr-offsite", OffsiteStoreArgs(deployment, dr_key.arn, crm.database.arn), where.dr)
    backup = PrimaryBackup(
        "primary-backup",
        PrimaryBackupArgs(
            deployment,
            primary_key.arn,
            dr_key.arn,
            offsite.vault.arn,
            crm.database.arn,
            crm.attachments,
            offsite.attachments_replica,
        ),
        where.primary,
    )
    standby = Standby(
        "dr-standby",
        StandbyArgs(deployment, dr_net, dr_key.arn, crm.database.arn, plumbing.secret.arn),
        where.dr,
    )
    dns = _failover_dns(deployment, plumbing, crm, standby, where.dr)
    runner = _drill_runner(deployment, dr_net, dr_key, offsite, plumbing, backup, standby, where.dr)
    status = StatusPage("dr-status", StatusPageArgs(), where.dr)
    intake = DowntimeIntake("dr-intake", DowntimeIntakeArgs(deployment, dr_key.arn), where.dr)
    return Stack(deployment, where, dr_key, plumbing, crm, offsite, standby, dns, runner, status, intake)


def _failover_dns(
    deployment: Deployment,
    plumbing: RecoveryPlumbing,
    crm: CrmStack,
    standby: Standby,
    opts: pulumi.ResourceOptions,
) -> FailoverDns:
    settings = deployment.settings
    replica = standby.replica
    database = FailoverTarget(settings.db_record, crm.database.address, replica.address if replica else RESTORE_PENDING)
    app = FailoverTarget(settings.app_record, crm.app.dns_name, standby.app.dns_name)
    return FailoverDns("dr-dns", FailoverDnsArgs(deployment, plumbing.failover_alarm.name, database, app), opts)


def _drill_runner(
    deployment: Deployment,
    network: Network,
    dr_key: EncryptionKey,
    offsite: OffsiteStore,
    plumbing: RecoveryPlumbing,
    backup: PrimaryBackup,
    standby: Standby,
    opts: pulumi.ResourceOptions,
) -> DrillRunner:
    return DrillRunner(
        "dr-drills",
        DrillRunnerArgs(
            deployment=deployment,
            network=network,
            kms_key_arn=dr_key.arn,
            backup_bucket=offsite.backup_bucket,
            attachments_replica=offsite.attachments_replica,
            inventory_key=INVENTORY_KEY,
            lock_table_arn=plumbing.lock_table.arn,
            topic_arn=plumbing.topic.arn,
            db_secret_arn=plumbing.secret.arn,
            backup_role_arn=backup.backup_role_arn,
            replica_arn=standby.replica.arn if standby.replica else None,
        ),
        opts,
    )


def inventory(stack: Stack) -> pulumi.Output[dict[str, Any]]:
    """The `dr_inventory` output, validated against the recovery side's model."""
    deployment, settings = stack.deployment, stack.deployment.settings
    replica = stack.standby.replica
    return pulumi.Output.all(
        primary_endpoint=stack.crm.database.address,
        primary_instance_id=stack.crm.database.identifier,
        standby_endpoint=replica.address if replica else None,
        db_secret_name=stack.plumbing.secret.name,
        backup_bucket=stack.offsite.backup_bucket.name,
        backup_kms_key_arn=stack.dr_key.arn,
        zone_id=stack.dns.zone_id,
        primary_health_check_id=stack.dns.health_check_id,
        lock_table=stack.plumbing.lock_table.name,
        topic_arn=stack.plumbing.topic.arn,
        status_url=stack.status.url,
        status_bucket=stack.status.bucket_name,
        intake_url=stack.intake.url,
        intake_table=stack.intake.table.name,
    ).apply(
        lambda values: build_inventory(
            InventoryFacts(
                stack=deployment.prefix,
                environment=settings.environment,
                sla_tier=deployment.tier_name,
                primary_region=settings.primary_region,
                dr_region=settings.dr_region,
                strategy=settings.strategy,
                db_name=settings.db_name,
                db_user=settings.db_username,
                standby_instance_id=stack.standby.instance_id,
                zone=settings.zone,
                record_name=settings.db_record,
                ttl=settings.dns_ttl,
                status_prefix=STATUS_PREFIX,
                **values,
            )
        )
    )


def export(stack: Stack, document: pulumi.Output[dict[str, Any]]) -> None:
    """Stack outputs: the inventory first, then what people look up by hand."""
    settings = stack.deployment.settings
    scheme = "https" if settings.primary_certificate_arn else "http"
    pulumi.export("dr_inventory", document)
    pulumi.export("app_url", f"{scheme}://{settings.app_record}")
    pulumi.export("db_record", settings.db_record)
    pulumi.export("primary_region", settings.primary_region)
    pulumi.export("dr_region", settings.dr_region)
    pulumi.export("primary_db_endpoint", stack.crm.database.address)
    pulumi.export("standby_db_endpoint", stack.standby.replica.address if stack.standby.replica else None)
    pulumi.export("primary_alb_dns", stack.crm.app.dns_name)
    pulumi.export("dr_alb_dns", stack.standby.app.dns_name)
    pulumi.export("backup_bucket", stack.offsite.backup_bucket.name)
    pulumi.export("status_page_url", stack.status.url)
    pulumi.export("report_bucket", stack.runner.report_bucket.name)
    pulumi.export("dr_vault_arn", stack.offsite.vault.arn)
    pulumi.export("failover_alarm", stack.plumbing.failover_alarm.name)
    pulumi.export(
        "drill_schedules",
        [{"type": s.kind, "expression": s.expression, "enabled": s.enabled} for s in stack.runner.schedules],
    )


def main() -> None:
    """What `pulumi up` runs (through infra/__main__.py)."""
    deployment, password = read_configuration()
    stack = declare(deployment, password)
    document = inventory(stack)
    InventoryCopy(
        "dr-inventory",
        InventoryCopyArgs(
            bucket=stack.offsite.backup_bucket.bucket.id,
            key=INVENTORY_KEY,
            kms_key_arn=stack.dr_key.arn,
            content=document.apply(lambda doc: json.dumps(doc, indent=2, sort_keys=True)),
        ),
        stack.where.dr,
    )
    export(stack, document)
