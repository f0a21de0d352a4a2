"""The Pulumi program's pure decisions: settings, names, schedules, IAM documents, inventory."""

import ast
import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from infra.dr_inventory import InventoryFacts, build_inventory
from infra.drill_schedules import RunnerTask, allows_failover, container_definitions, drill_schedules
from infra.iam import RunnerScope, arn_parts, drill_runner_policy, in_region, scheduler_policy
from infra.settings import config_keys, load_deployment
from policies.errors import ConfigError
from policies.sla import load_policy

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
PURE = [
    "infra/settings.py",
    "infra/iam.py",
    "infra/dr_inventory.py",
    "infra/drill_schedules.py",
    "policies/schedules.py",
    *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "policies/guardrails").glob("*.py")),
]
BASE = {
    "primaryRegion": "us-east-1",
    "drRegion": "us-west-2",
    "strategy": "pilot-light",
    "slaTier": "silver",
    "dnsZoneName": "example.org",
    "drillRunnerImage": "repo/crmdr:1",
}


@pytest.mark.parametrize("module", PURE)
def test_pure_decisions_never_import_pulumi(module: str) -> None:
    tree = ast.parse((ROOT / module).read_text())
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert not {name for name in imported if name.split(".")[0] in {"pulumi", "pulumi_aws", "pulumi_policy"}}


def test_settings_arrive_as_text_and_are_typed_and_resolved_against_the_tier() -> None:
    resolved = load_deployment(
        {**BASE, "dnsTtl": "45", "appMinSize": "1", "appDesiredCapacity": "1", "backupRetention": "90d"},
        project="crm-dr",
        stack="Prod EU",
        source="x",
    )
    assert resolved.settings.dns_ttl == 45
    assert resolved.prefix == "crm-dr-prod-eu"
    assert (resolved.retention_days, resolved.rds_retention_days) == (90, 35)
    assert resolved.report_retention_days == 365  # drill reports outlive the audit period
    assert resolved.backup_schedule == "cron(0 */6 * * ? *)"  # silver: every 6h
    assert resolved.lock_mode == "GOVERNANCE"
    assert resolved.settings.db_record == "db.example.org"
    assert "drillRunnerImage" in config_keys() and "dbPassword" not in config_keys()


def test_a_tier_asking_for_sub_hourly_backups_cannot_be_scheduled(tmp_path: Path) -> None:
    policy = tmp_path / "tiers.yaml"
    policy.write_text(
        "version: 1\ntiers:\n  fast:\n    rto: 5m\n    rpo: 1m\n    backup_frequency: 15m\n    retention: 35d\n"
        "    max_replication_lag: 10s\n    status_notice_every: 5m\n"
        "    drills: {backup-verify: 1d, restore-test: 7d, failover: 30d}\n"
    )
    with pytest.raises(ConfigError, match="AWS Backup runs at most hourly"):
        load_deployment({**BASE, "slaTier": "fast", "policyFile": str(policy)}, project="p", stack="s", source="x")


def test_drill_schedules_follow_the_cadences_and_guard_production_failover() -> None:
    gold = load_policy(None).tier("gold")
    schedules = drill_schedules("gold", gold, environment="production")
    assert [(s.kind, s.expression, s.enabled) for s in schedules] == [
        ("backup-verify", "rate(1 day)", True),
        ("restore-test", "rate(7 days)", True),
        ("failover", "rate(30 days)", False),
    ]
    assert "does not allow failover drills in production" in schedules[2].note
    assert all(s.enabled for s in drill_schedules("gold", gold, environment="staging"))
    assert not allows_failover(gold, environment="production")


def test_the_drill_task_fetches_inputs_runs_the_drill_and_publishes_reports() -> None:
    task = RunnerTask(
        runner_image="img",
        cli_image="cli",
        region="us-west-2",
        inventory_url="s3://b/crm/inventory.json",
        signing_key_secret="s/key",
        report_url="s3://r/stack/",
        kms_key_arn="arn:aws:kms:k",
        log_group="logs",
        scratch_prefix="stack-drill-",
    )
    fetch, runner, publish = container_definitions(task, ("drill", "run", "--type", "failover"))
    assert fetch["essential"] is False and "s3 cp s3://b/crm/inventory.json" in str(fetch["command"])
    assert runner["command"] == ["drill", "run", "--type", "failover"]
    assert runner["dependsOn"] == [{"containerName": "fetch-inputs", "condition": "SUCCESS"}]
    assert publish["essential"] is True
    assert publish["dependsOn"] == [{"containerName": "drill-runner", "condition": "COMPLETE"}]
    assert "aws s3 sync /reports s3://r/stack/ --sse aws:kms" in str(publish["command"])


def test_arn_helpers() -> None:
    arn = "arn:aws:secretsmanager:us-west-2:123456789012:secret:stack/db-master-AbCdEf"
    assert arn_parts(arn) == ("aws", "us-west-2", "123456789012")
    assert in_region(arn, "us-east-1") == arn.replace("us-west-2", "us-east-1")
    with pytest.raises(ValueError, match="not an ARN"):
        in_region("table/x", "us-east-1")


def test_scheduler_policy_covers_every_revision_of_one_family() -> None:
    document = scheduler_policy(
        "arn:aws:ecs:us-west-2:1:task-definition/stack-drill-failover:7", ["arn:aws:iam::1:role/t"]
    )
    assert document["Statement"][0]["Resource"] == ["arn:aws:ecs:us-west-2:1:task-definition/stack-drill-failover:*"]


def test_runner_policy_is_valid_json_with_unique_statement_ids() -> None:
    scope = RunnerScope(
        backup_bucket_arn="arn:aws:s3:::b",
        attachments_replica_arn="arn:aws:s3:::a",
        report_bucket_arn="arn:aws:s3:::r",
        kms_key_arn="arn:aws:kms:us-west-2:1:key/mrk-1",
        lock_table_arn="arn:aws:dynamodb:us-west-2:1:table/lock",
        topic_arn="arn:aws:sns:us-west-2:1:t",
        db_secret_arn="arn:aws:secretsmanager:us-west-2:1:secret:d",
        signing_key_secret_arn="arn:aws:secretsmanager:us-west-2:1:secret:k",
        backup_role_arn="arn:aws:iam::1:role/b",
        backup_prefix="crm/",
        scratch_prefix="stack-drill-",
    )
    document = json.loads(json.dumps(drill_runner_policy(scope)))
    sids = [statement["Sid"] for statement in document["Statement"]]
    assert len(sids) == len(set(sids))
    [write] = [s for s in document["Statement"] if s["Sid"] == "WriteEvidence"]
    assert write["Resource"] == ["arn:aws:s3:::r/*", "arn:aws:s3:::b/crm/points/*/verifications/*",
                                 "arn:aws:s3:::b/crm/runs/*", "arn:aws:s3:::b/crm/drill-reports/*"]


def facts(**overrides: object) -> InventoryFacts:
    values: dict[str, object] = dict(
        stack="crm-dr-prod",
        environment="production",
        sla_tier="silver",
        primary_region="us-east-1",
        dr_region="us-west-2",
        strategy="pilot-light",
        db_name="crm",
        db_user="crmdr",
        db_secret_name="crm-dr-prod/db-master",
        primary_instance_id="crm-dr-prod-primary",
        primary_endpoint="p.rds.amazonaws.com",
        standby_instance_id="crm-dr-prod-standby",
        standby_endpoint="s.rds.amazonaws.com",
        backup_bucket="b",
        backup_kms_key_arn="arn:aws:kms:us-west-2:1:key/k",
        zone_id="Z1",
        zone="example.org",
        record_name="db.example.org",
        ttl=30,
        primary_health_check_id="hc",
        lock_table="lock",
        topic_arn="arn:aws:sns:us-west-2:1:t",
    )
    values.update(overrides)
    return InventoryFacts(**values)  # type: ignore[arg-type]


def test_the_inventory_document_marks_a_restore_target_when_there_is_no_replica() -> None:
    document = build_inventory(facts(strategy="backup-restore", standby_endpoint=None))
    assert "endpoint" not in document["database"]["standby"]
    assert document["database"]["standby"]["tags"]["crm-dr:role"] == "restore-target"
    assert build_inventory(facts())["database"]["standby"]["tags"]["crm-dr:role"] == "replica"


def test_an_inventory_that_breaks_the_contract_fails_at_build_time() -> None:
    with pytest.raises(ValidationError):
        build_inventory(facts(ttl=120))
    with pytest.raises(ValidationError):
        build_inventory(facts(dr_region="us-east-1"))
