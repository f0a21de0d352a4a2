"""Which drills run by themselves, how often, and with which command (pure: no Pulumi import).

The cadences come from the SLA tier; the command is the same `crmdr drill run` an operator
would type. A failover drill against production is scheduled but disabled unless the tier
allows production drills: the schedule documents the cadence, a person decides to run it.
"""

from dataclasses import dataclass

from policies.schedules import rate_expression
from policies.sla import DRILL_TYPES, DrillType, Tier

DISRUPTIVE_DRILLS: frozenset[DrillType] = frozenset({"failover"})
RUNNER_CONTAINER = "drill-runner"
FETCH_CONTAINER = "fetch-inputs"
PUBLISH_CONTAINER = "publish-reports"
INVENTORY_PATH = "/inputs/inventory.json"
SIGNING_KEY_PATH = "/inputs/signing-key.pem"
REPORTS_DIR = "/reports"


@dataclass(frozen=True)
class DrillSchedule:
    """One EventBridge Scheduler schedule for one drill type."""

    kind: DrillType
    expression: str
    enabled: bool
    command: tuple[str, ...]
    note: str


def drill_schedules(tier_name: str, tier: Tier, *, environment: str) -> list[DrillSchedule]:
    """One schedule per drill type the tier names, in the canonical drill order."""
    schedules = []
    for kind in DRILL_TYPES:
        cadence = tier.drills.get(kind)
        if cadence is None:
            continue
        guarded = kind in DISRUPTIVE_DRILLS and environment == "production" and not tier.production_drills_allowed
        note = (
            f"disabled: tier '{tier_name}' does not allow {kind} drills in production"
            if guarded
            else f"{kind} drill every {rate_expression(cadence)[5:-1]} (tier '{tier_name}')"
        )
        schedules.append(
            DrillSchedule(
                kind=kind,
                expression=rate_expression(cadence),
                enabled=not guarded,
                command=("drill", "run", "--type", kind, "--tier", tier_name, "--out", REPORTS_DIR, "--json"),
                note=note,
            )
        )
    return schedules


def allows_failover(tier: Tier, *, environment: str) -> bool:
    """Whether the unattended runner may promote the standby (never in production by default)."""
    return environment != "production" or tier.production_drills_allowed


@dataclass(frozen=True)
class RunnerTask:
    """What the drill task needs to know, resolved to plain strings."""

    runner_image: str
    cli_image: str
    region: str
    inventory_url: str
    signing_key_secret: str
    report_url: str
    kms_key_arn: str
    log_group: str
    scratch_prefix: str


def container_definitions(task: RunnerTask, command: tuple[str, ...]) -> list[dict[str, object]]:
    """Fetch inputs, run `crmdr COMMAND`, publish the signed reports to the locked report bucket.

    Fargate storage is ephemeral, so the report chain's last link is fetched before the run
    and the whole report directory is synced after it. The publisher is the essential
    container: it runs whatever the drill's verdict (the runner's exit code stays in ECS).
    """
    inputs = {"sourceVolume": "inputs", "containerPath": "/inputs"}
    reports = {"sourceVolume": "reports", "containerPath": REPORTS_DIR}
    chain = f"{task.report_url}chain.jsonl"
    fetch = (
        f"aws s3 cp {task.inventory_url} {INVENTORY_PATH} && "
        f"aws secretsmanager get-secret-value --secret-id {task.signing_key_secret} "
        f"--query SecretString --output text > {SIGNING_KEY_PATH} && "
        f"chmod 0400 {SIGNING_KEY_PATH} && "
        f"(aws s3 cp {chain} {REPORTS_DIR}/chain.jsonl || echo 'no report chain yet')"
    )
    publish = f"aws s3 sync {REPORTS_DIR} {task.report_url} --sse aws:kms --sse-kms-key-id {task.kms_key_arn}"
    return [
        _container(task, FETCH_CONTAINER, task.cli_image, fetch, [inputs, reports], essential=False),
        {
            **_container(task, RUNNER_CONTAINER, task.runner_image, None, [inputs, reports], essential=False),
            "entryPoint": ["crmdr"],
            "command": list(command),
            "dependsOn": [{"containerName": FETCH_CONTAINER, "condition": "SUCCESS"}],
            "environment": [
                {"name": "AWS_REGION", "value": task.region},
                {"name": "CRMDR_INVENTORY", "value": INVENTORY_PATH},
                {"name": "CRMDR_SIGNING_KEY", "value": SIGNING_KEY_PATH},
                {"name": "CRMDR_JOURNAL_DIR", "value": f"{REPORTS_DIR}/journal"},
                {"name": "CRMDR_OPERATOR", "value": "eventbridge-scheduler"},
                {"name": "CRMDR_SCRATCH_PREFIX", "value": task.scratch_prefix},
            ],
        },
        {
            **_container(task, PUBLISH_CONTAINER, task.cli_image, publish, [reports], essential=True),
            "dependsOn": [{"containerName": RUNNER_CONTAINER, "condition": "COMPLETE"}],
        },
    ]


def _container(
    task: RunnerTask,
    name: str,
    image: str,
    script: str | None,
    mounts: list[dict[str, str]],
    *,
    essential: bool,
) -> dict[str, object]:
    container: dict[str, object] = {
        "name": name,
        "image": image,
        "essential": essential,
        "mountPoints": mounts,
        "logConfiguration": {
            "logDriver": "awslogs",
            "options": {
                "awslogs-group": task.log_group,
                "awslogs-region": task.region,
                "awslogs-stream-prefix": name,
            },
        },
    }
    if script is not None:
        container.update(entryPoint=["sh", "-c"], command=[script])
    return container
