"""The drill runner in the DR region: `crmdr drill run` on Fargate, on the tier's cadence.

One task definition per drill type (the command is baked in, so each EventBridge Scheduler
schedule is a plain templated ECS target), a report bucket under Object Lock, and three
roles: the task's (least privilege, see `infra.iam.drill_runner_policy`), the execution
role (pull the image, write logs) and the scheduler's (start these tasks, nothing else).
"""

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.buckets import BucketLock, SecureBucket, secure_bucket
from infra.dr_inventory import BACKUP_PREFIX
from infra.drill_schedules import (
    DrillSchedule,
    RunnerTask,
    allows_failover,
    container_definitions,
    drill_schedules,
)
from infra.iam import RunnerScope, assume_role_policy, drill_runner_policy, scheduler_policy
from infra.network import Network
from infra.settings import Deployment

TASK_EXECUTION_POLICY = "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
LOG_RETENTION_DAYS = 365
FLEXIBLE_WINDOW_MINUTES = 60


@dataclass(frozen=True)
class DrillRunnerArgs:
    deployment: Deployment
    network: Network
    kms_key_arn: pulumi.Input[str]
    backup_bucket: SecureBucket
    attachments_replica: SecureBucket
    inventory_key: str
    lock_table_arn: pulumi.Input[str]
    topic_arn: pulumi.Input[str]
    db_secret_arn: pulumi.Input[str]
    backup_role_arn: pulumi.Input[str]
    replica_arn: pulumi.Input[str] | None
    status_bucket_arn: pulumi.Input[str] | None = None  # drills write the status page's drill location only
    status_key_arn: pulumi.Input[str] | None = None


@dataclass(frozen=True)
class TaskParts:
    """What every drill task definition shares."""

    logs: aws.cloudwatch.LogGroup
    signing_key: aws.secretsmanager.Secret
    task_role: aws.iam.Role
    execution_role: aws.iam.Role


class DrillRunner(pulumi.ComponentResource):
    """Cluster, task definitions, roles, report bucket and schedules."""

    report_bucket: SecureBucket
    task_role_policy: pulumi.Output[str]
    schedules: list[DrillSchedule]

    def __init__(self, name: str, args: DrillRunnerArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("crm-dr:infra:DrillRunner", name, None, opts)
        deployment = args.deployment
        child = pulumi.ResourceOptions(parent=self)
        self.report_bucket = secure_bucket(
            f"{name}-reports",
            kms_key_arn=args.kms_key_arn,
            parent=self,
            lock=BucketLock(mode=deployment.lock_mode, days=deployment.report_retention_days),
        )
        signing_key = aws.secretsmanager.Secret(
            f"{name}-signing-key",
            name=f"{deployment.prefix}/drill-signing-key",
            description="Ed25519 PEM key that signs drill reports (put the value in yourself)",
            kms_key_id=args.kms_key_arn,
            opts=child,
        )
        logs = aws.cloudwatch.LogGroup(f"{name}-logs", retention_in_days=LOG_RETENTION_DAYS, opts=child)
        cluster = aws.ecs.Cluster(
            f"{name}-cluster",
            settings=[aws.ecs.ClusterSettingArgs(name="containerInsights", value="enabled")],
            opts=child,
        )
        task_role, execution_role = self._task_roles(name, args, signing_key)
        self.schedules = drill_schedules(
            deployment.tier_name, deployment.tier, environment=deployment.settings.environment
        )
        parts = TaskParts(logs, signing_key, task_role, execution_role)
        definitions = [self._task_definition(name, args, schedule, parts) for schedule in self.schedules]
        self._schedule(name, args, cluster, definitions, [task_role, execution_role])
        self.register_outputs({"report_bucket": self.report_bucket.name, "cluster_arn": cluster.arn})

    def _task_roles(
        self, name: str, args: DrillRunnerArgs, signing_key: aws.secretsmanager.Secret
    ) -> tuple[aws.iam.Role, aws.iam.Role]:
        child = pulumi.ResourceOptions(parent=self)
        trust = assume_role_policy("ecs-tasks.amazonaws.com")
        task_role = aws.iam.Role(f"{name}-task-role", assume_role_policy=trust, opts=child)
        execution_role = aws.iam.Role(f"{name}-execution-role", assume_role_policy=trust, opts=child)
        aws.iam.RolePolicyAttachment(
            f"{name}-execution-policy",
            role=execution_role.name,
            policy_arn=TASK_EXECUTION_POLICY,
            opts=child,
        )
        deployment = args.deployment
        failover = allows_failover(deployment.tier, environment=deployment.settings.environment)
        self.task_role_policy = pulumi.Output.all(
            backup_bucket_arn=args.backup_bucket.arn,
            attachments_replica_arn=args.attachments_replica.arn,
            report_bucket_arn=self.report_bucket.arn,
            kms_key_arn=args.kms_key_arn,
            lock_table_arn=args.lock_table_arn,
            topic_arn=args.topic_arn,
            db_secret_arn=args.db_secret_arn,
            signing_key_secret_arn=signing_key.arn,
            backup_role_arn=args.backup_role_arn,
            replica_arn=args.replica_arn,
            status_bucket_arn=args.status_bucket_arn,
            status_key_arn=args.status_key_arn,
        ).apply(
            lambda arns: json.dumps(
                drill_runner_policy(
                    RunnerScope(
                        **arns,
                        backup_prefix=BACKUP_PREFIX,
                        scratch_prefix=f"{deployment.prefix}-drill-",
                        allow_failover=failover,
                    )
                )
            )
        )
        aws.iam.RolePolicy(f"{name}-task-policy", role=task_role.id, policy=self.task_role_policy, opts=child)
        return task_role, execution_role

    def _task_definition(
        self, name: str, args: DrillRunnerArgs, schedule: DrillSchedule, parts: TaskParts
    ) -> aws.ecs.TaskDefinition:
        """One Fargate task per drill type, its command baked in."""
        prefix = args.deployment.prefix
        return aws.ecs.TaskDefinition(
            f"{name}-{schedule.kind}",
            family=f"{prefix}-drill-{schedule.kind}",
            cpu="1024",
            memory="2048",
            network_mode="awsvpc",
            requires_compatibilities=["FARGATE"],
            runtime_platform=aws.ecs.TaskDefinitionRuntimePlatformArgs(
                operating_system_family="LINUX", cpu_architecture="X86_64"
            ),
            task_role_arn=parts.task_role.arn,
            execution_role_arn=parts.execution_role.arn,
            volumes=[
                aws.ecs.TaskDefinitionVolumeArgs(name="inputs"),
                aws.ecs.TaskDefinitionVolumeArgs(name="reports"),
            ],
            container_definitions=self._containers(args, schedule, parts),
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _containers(self, args: DrillRunnerArgs, schedule: DrillSchedule, parts: TaskParts) -> pulumi.Output[str]:
        settings, prefix = args.deployment.settings, args.deployment.prefix
        return pulumi.Output.all(
            backup_bucket=args.backup_bucket.name,
            report_bucket=self.report_bucket.name,
            kms_key_arn=args.kms_key_arn,
            log_group=parts.logs.name,
            signing_key=parts.signing_key.name,
        ).apply(
            lambda values: json.dumps(
                container_definitions(
                    RunnerTask(
                        runner_image=settings.drill_runner_image,
                        cli_image=settings.aws_cli_image,
                        region=settings.dr_region,
                        inventory_url=f"s3://{values['backup_bucket']}/{args.inventory_key}",
                        signing_key_secret=values["signing_key"],
                        report_url=f"s3://{values['report_bucket']}/{prefix}/",
                        kms_key_arn=values["kms_key_arn"],
                        log_group=values["log_group"],
                        scratch_prefix=f"{prefix}-drill-",
                    ),
                    schedule.command,
                )
            )
        )

    def _schedule(
        self,
        name: str,
        args: DrillRunnerArgs,
        cluster: aws.ecs.Cluster,
        definitions: list[aws.ecs.TaskDefinition],
        roles: list[aws.iam.Role],
    ) -> None:
        child = pulumi.ResourceOptions(parent=self)
        role = aws.iam.Role(
            f"{name}-scheduler-role",
            assume_role_policy=assume_role_policy("scheduler.amazonaws.com"),
            opts=child,
        )
        group = aws.scheduler.ScheduleGroup(f"{name}-schedules", opts=child)
        for schedule, definition in zip(self.schedules, definitions, strict=True):
            aws.iam.RolePolicy(
                f"{name}-scheduler-{schedule.kind}",
                role=role.id,
                policy=pulumi.Output.all(definition.arn, *(r.arn for r in roles)).apply(
                    lambda arns: json.dumps(scheduler_policy(arns[0], list(arns[1:])))
                ),
                opts=child,
            )
            aws.scheduler.Schedule(
                f"{name}-{schedule.kind}-schedule",
                group_name=group.name,
                description=schedule.note,
                schedule_expression=schedule.expression,
                state="ENABLED" if schedule.enabled else "DISABLED",
                flexible_time_window=aws.scheduler.ScheduleFlexibleTimeWindowArgs(
                    mode="FLEXIBLE", maximum_window_in_minutes=FLEXIBLE_WINDOW_MINUTES
                ),
                target=_run_task(args, cluster, definition, role),
                opts=child,
            )


def _run_task(
    args: DrillRunnerArgs, cluster: aws.ecs.Cluster, definition: aws.ecs.TaskDefinition, role: aws.iam.Role
) -> aws.scheduler.ScheduleTargetArgs:
    """A templated ECS RunTask target: the drill task in the DR region's private subnets."""
    return aws.scheduler.ScheduleTargetArgs(
        arn=cluster.arn,
        role_arn=role.arn,
        ecs_parameters=aws.scheduler.ScheduleTargetEcsParametersArgs(
            task_definition_arn=definition.arn,
            launch_type="FARGATE",
            network_configuration=aws.scheduler.ScheduleTargetEcsParametersNetworkConfigurationArgs(
                subnets=args.network.private_subnet_ids,
                security_groups=[args.network.runner_sg_id],
                assign_public_ip=False,
            ),
        ),
    )
