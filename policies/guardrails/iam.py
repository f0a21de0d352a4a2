"""Which IAM actions destroy recovery points or lift a lock.

Used by the `iam-protects-recovery-points` guardrail and by the test of the drill runner's
role. An allowed action pattern is destructive if it matches any action below: `s3:*`,
`rds:Delete*` and `*` all do. Deleting a scratch database or a lease row is not listed:
those do not destroy evidence, and a drill that cannot clean up leaks cost.
"""

import json
from fnmatch import fnmatchcase
from typing import Any

DESTRUCTIVE_ACTIONS: tuple[str, ...] = (
    "backup:DeleteBackupPlan",
    "backup:DeleteBackupSelection",
    "backup:DeleteBackupVault",
    "backup:DeleteBackupVaultAccessPolicy",
    "backup:DeleteBackupVaultLockConfiguration",
    "backup:DeleteRecoveryPoint",
    "backup:DisassociateRecoveryPoint",
    "backup:PutBackupVaultAccessPolicy",
    "backup:PutBackupVaultLockConfiguration",
    "backup:UpdateBackupPlan",
    "backup:UpdateRecoveryPointLifecycle",
    "dynamodb:DeleteBackup",
    "dynamodb:DeleteTable",
    "ec2:DeleteSnapshot",
    "iam:AttachRolePolicy",
    "iam:CreatePolicyVersion",
    "iam:PutRolePolicy",
    "iam:UpdateAssumeRolePolicy",
    "kms:DisableKey",
    "kms:DisableKeyRotation",
    "kms:PutKeyPolicy",
    "kms:ScheduleKeyDeletion",
    "rds:DeleteDBClusterAutomatedBackup",
    "rds:DeleteDBClusterSnapshot",
    "rds:DeleteDBInstanceAutomatedBackup",
    "rds:DeleteDBSnapshot",
    "rds:ModifyDBInstance",
    "rds:StopDBInstanceAutomatedBackupsReplication",
    "s3:BypassGovernanceRetention",
    "s3:DeleteBucket",
    "s3:DeleteBucketPolicy",
    "s3:DeleteObject",
    "s3:DeleteObjectVersion",
    "s3:PutBucketObjectLockConfiguration",
    "s3:PutBucketPolicy",
    "s3:PutBucketVersioning",
    "s3:PutEncryptionConfiguration",
    "s3:PutLifecycleConfiguration",
    "s3:PutObjectLegalHold",
    "s3:PutReplicationConfiguration",
)
"""Actions that delete recovery points, snapshots or backups, shorten their life, or lift a
lock (Object Lock, Vault Lock, deletion protection, key policy), or let a role grant itself
any of these. `s3:PutObjectRetention` is not listed: it sets or extends a retention, and
shortening a governance-mode one also needs `s3:BypassGovernanceRetention` (listed)."""


def parse_document(policy: Any) -> dict[str, Any] | None:
    """A policy document from its JSON text (or an already parsed mapping); None if invalid."""
    if isinstance(policy, str):
        try:
            policy = json.loads(policy)
        except json.JSONDecodeError:
            return None
    if isinstance(policy, dict) and "Statement" in policy:
        return policy
    return None


def allowed_actions(document: dict[str, Any]) -> list[str]:
    """Every action pattern an Allow statement grants (NotAction shows as `NotAction:...`)."""
    found: list[str] = []
    for stmt in _statements(document):
        if stmt.get("Effect") != "Allow":
            continue
        found.extend(_as_list(stmt.get("Action")))
        found.extend(f"NotAction:{action}" for action in _as_list(stmt.get("NotAction")))
    return found


def destructive_actions(document: dict[str, Any]) -> list[str]:
    """Allowed action patterns that reach a destructive action, sorted and distinct."""
    offending = set()
    for pattern in allowed_actions(document):
        if pattern.startswith("NotAction:"):
            offending.add(pattern)
            continue
        lowered = pattern.lower()
        if any(fnmatchcase(action.lower(), lowered) for action in DESTRUCTIVE_ACTIONS):
            offending.add(pattern)
    return sorted(offending)


def _statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    statements = document.get("Statement")
    if isinstance(statements, dict):
        return [statements]
    return [stmt for stmt in statements or [] if isinstance(stmt, dict)]


def _as_list(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    return [str(item) for item in value or []]
