"""The drill runner's role, as the program declares it: read, copy, restore; never destroy.

The policy is taken from the mocked program's RolePolicy, not rebuilt here, so the test
judges what `pulumi up` would create.
"""

import json
from fnmatch import fnmatchcase
from typing import Any

import pytest

from policies.guardrails.iam import DESTRUCTIVE_ACTIONS, allowed_actions, destructive_actions
from tests.infra.conftest import INFRA, preview, preview_for

pytestmark = INFRA

ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"


def runner_policy(**overrides: Any) -> dict[str, Any]:
    run = preview(**overrides) if overrides else preview_for("pilot-light")
    return json.loads(run.named(ROLE_POLICY, "dr-drills-task-policy").inputs["policy"])


def statements_granting(document: dict[str, Any], action: str) -> list[dict[str, Any]]:
    return [s for s in document["Statement"] if s["Effect"] == "Allow" and action in s["Action"]]


def test_the_runner_cannot_delete_recovery_points_or_snapshots_nor_change_a_lock() -> None:
    document = runner_policy()
    assert destructive_actions(document) == []
    actions = allowed_actions(document)
    assert not any("*" in action for action in actions), "no wildcard action can hide a destructive one"
    for forbidden in (
        "backup:DeleteRecoveryPoint",
        "rds:DeleteDBSnapshot",
        "s3:DeleteObjectVersion",
        "s3:BypassGovernanceRetention",
        "backup:PutBackupVaultLockConfiguration",
        "s3:PutBucketObjectLockConfiguration",
        "s3:PutObjectLegalHold",
        "rds:ModifyDBInstance",
    ):
        assert forbidden in DESTRUCTIVE_ACTIONS
        assert not any(fnmatchcase(forbidden, action) for action in actions)


def test_its_only_deletions_are_its_own_scratch_restores_and_lease_rows() -> None:
    document = runner_policy()
    deletes = {action for action in allowed_actions(document) if ":Delete" in action}
    assert deletes == {"rds:DeleteDBInstance", "dynamodb:DeleteItem"}
    [scratch] = statements_granting(document, "rds:DeleteDBInstance")
    assert scratch["Resource"] == ["arn:aws:rds:eu-central-1:123456789012:db:crm-dr-test-drill-*"]
    [lease] = statements_granting(document, "dynamodb:DeleteItem")
    assert lease["Resource"] == ["arn:aws:dynamodb:eu-central-1:123456789012:table/crm-dr-test-recovery-lock"]


def test_it_can_read_copy_and_restore() -> None:
    actions = set(allowed_actions(runner_policy()))
    assert {
        "backup:StartRestoreJob",
        "backup:StartCopyJob",
        "backup:ListRecoveryPointsByBackupVault",
        "s3:GetObject",
        "s3:GetObjectVersion",
        "rds:RestoreDBInstanceToPointInTime",
        "rds:RestoreDBInstanceFromDBSnapshot",
        "kms:Decrypt",
    } <= actions
    [pass_role] = statements_granting(runner_policy(), "iam:PassRole")
    assert pass_role["Condition"] == {"StringEquals": {"iam:PassedToService": "backup.amazonaws.com"}}
    assert len(pass_role["Resource"]) == 1 and ":role/" in pass_role["Resource"][0]


def test_promotion_is_granted_only_where_unattended_failover_drills_are_allowed() -> None:
    assert statements_granting(runner_policy(), "rds:PromoteReadReplica") == []
    staging = runner_policy(strategy="pilot-light", slaTier="silver", environment="staging")
    [promote] = statements_granting(staging, "rds:PromoteReadReplica")
    assert promote["Resource"] == ["arn:aws:rds:eu-central-1:123456789012:db:crm-dr-test-standby"]


@pytest.mark.parametrize("strategy", ["backup-restore", "warm-standby"])
def test_the_scheduler_may_only_start_drill_tasks_and_pass_their_roles(strategy: str) -> None:
    run = preview_for(strategy)
    policies = [p for p in run.of_type(ROLE_POLICY) if p.name.startswith("dr-drills-scheduler-")]
    assert len(policies) == 3
    for policy in policies:
        document = json.loads(policy.inputs["policy"])
        assert sorted(allowed_actions(document)) == ["ecs:RunTask", "iam:PassRole"]
        [run_task] = statements_granting(document, "ecs:RunTask")
        assert (
            run_task["Resource"][0].endswith(":*") and ":task-definition/crm-dr-test-drill-" in run_task["Resource"][0]
        )


def test_no_inline_policy_in_the_stack_grants_a_destructive_action() -> None:
    for policy in preview_for("warm-standby").of_type(ROLE_POLICY):
        assert destructive_actions(json.loads(policy.inputs["policy"])) == [], policy.name
