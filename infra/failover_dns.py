"""Route 53 failover for the database name and the app name, switched from the DR side.

Both PRIMARY records share one health check of type CLOUDWATCH_METRIC on the failover alarm
in the DR region: while the alarm is not in ALARM (including before it ever saw data) the
primary is served. Records are CNAMEs with an explicit TTL of at most 60 s, so clients move
within a minute of the alarm.
"""

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.dr_inventory import PRIMARY_SET_ID, SECONDARY_SET_ID
from infra.settings import Deployment

RESTORE_PENDING = "restore-pending.invalid"
"""SECONDARY database target before a backup-restore recovery exists (RFC 2606: never
resolves, so nothing connects to a wrong server); the restore runbook points it at the
restored instance."""


@dataclass(frozen=True)
class FailoverTarget:
    """What one name answers with in each region."""

    name: str
    primary: pulumi.Input[str]
    secondary: pulumi.Input[str]


@dataclass(frozen=True)
class FailoverDnsArgs:
    deployment: Deployment
    alarm_name: pulumi.Input[str]
    database: FailoverTarget
    app: FailoverTarget


class FailoverDns(pulumi.ComponentResource):
    """Hosted zone (unless given), the DR-controlled health check and two failover pairs."""

    zone_id: pulumi.Output[str]
    health_check_id: pulumi.Output[str]

    def __init__(self, name: str, args: FailoverDnsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("crm-dr:infra:FailoverDns", name, None, opts)
        settings = args.deployment.settings
        child = pulumi.ResourceOptions(parent=self)
        if settings.hosted_zone_id:
            self.zone_id = pulumi.Output.from_input(settings.hosted_zone_id)
        else:
            zone = aws.route53.Zone(f"{name}-zone", name=settings.zone, opts=child)
            self.zone_id = zone.zone_id
        check = aws.route53.HealthCheck(
            f"{name}-primary-check",
            type="CLOUDWATCH_METRIC",
            cloudwatch_alarm_name=args.alarm_name,
            cloudwatch_alarm_region=settings.dr_region,
            insufficient_data_health_status="Healthy",
            reference_name=f"{args.deployment.prefix}-primary"[:64],
            opts=child,
        )
        self.health_check_id = check.id
        for kind, target in (("db", args.database), ("app", args.app)):
            self._pair(f"{name}-{kind}", target, settings.dns_ttl)
        self.register_outputs({"zone_id": self.zone_id, "health_check_id": self.health_check_id})

    def _pair(self, name: str, target: FailoverTarget, ttl: int) -> None:
        for role, set_id, value in (
            ("PRIMARY", PRIMARY_SET_ID, target.primary),
            ("SECONDARY", SECONDARY_SET_ID, target.secondary),
        ):
            aws.route53.Record(
                f"{name}-{set_id}",
                zone_id=self.zone_id,
                name=target.name,
                type="CNAME",
                ttl=ttl,
                records=[value],
                set_identifier=set_id,
                failover_routing_policies=[aws.route53.RecordFailoverRoutingPolicyArgs(type=role)],
                health_check_id=self.health_check_id if role == "PRIMARY" else None,
                opts=pulumi.ResourceOptions(parent=self),
            )
