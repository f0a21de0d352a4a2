"""The CRM app tier of one region: an auto scaling group behind an application load balancer.

The same component serves the primary (full size) and the DR region (scaled to zero for
backup-restore and pilot light, scaled down for warm standby). Servers reach the database
through the failover DNS name, so a failover needs no change on them.
"""

import base64
import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.iam import assume_role_policy, document, statement
from infra.network import Network

SSM_MANAGED_CORE = "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"
TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"


@dataclass(frozen=True)
class AppTierArgs:
    network: Network
    instance_type: str
    min_size: int
    max_size: int
    desired_capacity: int
    port: int
    health_check_path: str
    ami_parameter: str
    db_host: str
    db_secret_arn: pulumi.Input[str]
    kms_key_arn: pulumi.Input[str]
    certificate_arn: str | None = None
    deletion_protection: bool = False


def user_data(db_host: str, secret_arn: str) -> str:
    """Boot script: tell the CRM where its database is (by DNS name) and where the secret is."""
    script = "\n".join(
        [
            "#!/bin/bash",
            "set -euo pipefail",
            "install -d -m 0750 /etc/crm",
            f"printf 'CRM_DB_HOST=%s\\nCRM_DB_SECRET_ARN=%s\\n' '{db_host}' '{secret_arn}' > /etc/crm/database.env",
        ]
    )
    return base64.b64encode(script.encode()).decode()


class AppTier(pulumi.ComponentResource):
    """Load balancer, target group, launch template and auto scaling group."""

    dns_name: pulumi.Output[str]
    group_name: pulumi.Output[str]

    def __init__(self, name: str, args: AppTierArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("crm-dr:infra:AppTier", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        profile = self._instance_profile(name, args, child)
        template = aws.ec2.LaunchTemplate(
            f"{name}-lt",
            image_id=f"resolve:ssm:{args.ami_parameter}",
            instance_type=args.instance_type,
            iam_instance_profile=aws.ec2.LaunchTemplateIamInstanceProfileArgs(arn=profile.arn),
            vpc_security_group_ids=[args.network.app_sg_id],
            metadata_options=aws.ec2.LaunchTemplateMetadataOptionsArgs(http_tokens="required", http_endpoint="enabled"),
            block_device_mappings=[
                aws.ec2.LaunchTemplateBlockDeviceMappingArgs(
                    device_name="/dev/xvda",
                    ebs=aws.ec2.LaunchTemplateBlockDeviceMappingEbsArgs(
                        encrypted="true", volume_size=30, volume_type="gp3"
                    ),
                )
            ],
            user_data=pulumi.Output.from_input(args.db_secret_arn).apply(lambda arn: user_data(args.db_host, arn)),
            opts=child,
        )
        target_group = self._load_balancer(name, args, child)
        group = aws.autoscaling.Group(
            f"{name}-asg",
            min_size=args.min_size,
            max_size=args.max_size,
            desired_capacity=args.desired_capacity,
            vpc_zone_identifiers=args.network.private_subnet_ids,
            target_group_arns=[target_group.arn],
            health_check_type="ELB",
            health_check_grace_period=120,
            launch_template=aws.autoscaling.GroupLaunchTemplateArgs(id=template.id, version="$Latest"),
            tags=[aws.autoscaling.GroupTagArgs(key="Name", value=name, propagate_at_launch=True)],
            opts=child,
        )
        self.group_name = group.name
        self.register_outputs({"dns_name": self.dns_name, "group_name": self.group_name})

    def _instance_profile(self, name: str, args: AppTierArgs, child: pulumi.ResourceOptions) -> aws.iam.InstanceProfile:
        role = aws.iam.Role(f"{name}-role", assume_role_policy=assume_role_policy("ec2.amazonaws.com"), opts=child)
        aws.iam.RolePolicyAttachment(f"{name}-ssm", role=role.name, policy_arn=SSM_MANAGED_CORE, opts=child)
        aws.iam.RolePolicy(
            f"{name}-secret",
            role=role.id,
            policy=pulumi.Output.all(args.db_secret_arn, args.kms_key_arn).apply(
                lambda arns: json.dumps(
                    document(
                        statement("ReadDatabaseSecret", ["secretsmanager:GetSecretValue"], [arns[0]]),
                        statement("DecryptSecret", ["kms:Decrypt"], [arns[1]]),
                    )
                )
            ),
            opts=child,
        )
        return aws.iam.InstanceProfile(f"{name}-profile", role=role.name, opts=child)

    def _load_balancer(self, name: str, args: AppTierArgs, child: pulumi.ResourceOptions) -> aws.lb.TargetGroup:
        balancer = aws.lb.LoadBalancer(
            f"{name}-alb",
            load_balancer_type="application",
            internal=False,
            security_groups=[args.network.alb_sg_id],
            subnets=args.network.public_subnet_ids,
            drop_invalid_header_fields=True,
            enable_deletion_protection=args.deletion_protection,
            opts=child,
        )
        target_group = aws.lb.TargetGroup(
            f"{name}-tg",
            port=args.port,
            protocol="HTTP",
            target_type="instance",
            vpc_id=args.network.vpc_id,
            health_check=aws.lb.TargetGroupHealthCheckArgs(path=args.health_check_path, matcher="200-399", interval=15),
            opts=child,
        )
        self._listeners(name, args, balancer, target_group, child)
        self.dns_name = balancer.dns_name
        return target_group

    def _listeners(
        self,
        name: str,
        args: AppTierArgs,
        balancer: aws.lb.LoadBalancer,
        target_group: aws.lb.TargetGroup,
        child: pulumi.ResourceOptions,
    ) -> None:
        """HTTPS when a certificate is configured (HTTP then redirects), plain HTTP otherwise."""
        forward = aws.lb.ListenerDefaultActionArgs(type="forward", target_group_arn=target_group.arn)
        plain_http = forward
        if args.certificate_arn:
            aws.lb.Listener(
                f"{name}-https",
                load_balancer_arn=balancer.arn,
                port=443,
                protocol="HTTPS",
                certificate_arn=args.certificate_arn,
                ssl_policy=TLS_POLICY,
                default_actions=[forward],
                opts=child,
            )
            plain_http = aws.lb.ListenerDefaultActionArgs(
                type="redirect",
                redirect=aws.lb.ListenerDefaultActionRedirectArgs(port="443", protocol="HTTPS", status_code="HTTP_301"),
            )
        aws.lb.Listener(
            f"{name}-http",
            load_balancer_arn=balancer.arn,
            port=80,
            protocol="HTTP",
            default_actions=[plain_http],
            opts=child,
        )
