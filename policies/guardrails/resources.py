"""Rules judged once per resource: encryption, retention, locks, deletion protection, TTL."""

from collections.abc import Mapping
from typing import Any

from policies.durations import format_duration
from policies.guardrails.iam import destructive_actions, parse_document
from policies.guardrails.model import (
    BACKUP_PLAN,
    BACKUP_VAULT,
    DNS_RECORD,
    HEALTH_CHECK,
    KMS_KEY,
    RDS_BACKUP_REPLICATION,
    RDS_INSTANCE,
    RDS_MAX_RETENTION_DAYS,
    ROLE_POLICY,
    S3_ENCRYPTION,
    S3_OBJECT_LOCK,
    S3_PUBLIC_ACCESS,
    S3_VERSIONING,
    VAULT_LOCK,
    Check,
    GuardrailContext,
    ResourceRule,
    ResourceView,
)
from policies.schedules import longest_gap

DATA_PLANE_HEALTH_CHECKS = ("CLOUDWATCH_METRIC", "RECOVERY_CONTROL")
MAX_DNS_TTL = 60
_LOCK_RANK = {"GOVERNANCE": 0, "COMPLIANCE": 1}


def _props(resource: ResourceView) -> Mapping[str, Any]:
    return resource["props"]


def _days(value: Any) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0


def _is_replica(props: Mapping[str, Any]) -> bool:
    return bool(props.get("replicateSourceDb"))


def rds_encrypted(resource: ResourceView, ctx: GuardrailContext) -> str | None:
    if _props(resource).get("storageEncrypted") is not True:
        return "storage is not encrypted (storageEncrypted is not true)"
    return None


def rds_deletion_protection(resource: ResourceView, ctx: GuardrailContext) -> str | None:
    if _props(resource).get("deletionProtection") is not True:
        return "deletion protection is off: one API call would delete the database"
    return None


def rds_multi_az(resource: ResourceView, ctx: GuardrailContext) -> str | None:
    props = _props(resource)
    if not _is_replica(props) and props.get("multiAz") is not True:
        return "the primary database is single-AZ: an AZ outage becomes a regional failover"
    return None


def rds_backup_retention(resource: ResourceView, ctx: GuardrailContext) -> str | None:
    props = _props(resource)
    if _is_replica(props):
        return None
    want = min(ctx.retention_days, RDS_MAX_RETENTION_DAYS)
    got = _days(props.get("backupRetentionPeriod"))
    if got < want:
        return (
            f"keeps automated backups {got:g} day(s); tier '{ctx.tier_name}' needs {want} "
            f"(retention {ctx.retention_days} days; RDS keeps 35 at most, AWS Backup the rest)"
        )
    return None


def rds_backup_replication_retention(resource: ResourceView, ctx: GuardrailContext) -> str | None:
    want = min(ctx.retention_days, RDS_MAX_RETENTION_DAYS)
    got = _days(_props(resource).get("retentionPeriod"))
    if got < want:
        return f"keeps replicated backups {got:g} day(s) off-site; tier '{ctx.tier_name}' needs {want}"
    return None


def backup_plan_retention(resource: ResourceView, ctx: GuardrailContext) -> str | None:
    for rule in _props(resource).get("rules") or []:
        name = rule.get("ruleName", "?")
        lifecycles = [("", rule.get("lifecycle"))] + [
            (" (off-site copy)", copy.get("lifecycle")) for copy in rule.get("copyActions") or []
        ]
        for where, lifecycle in lifecycles:
            delete_after = (lifecycle or {}).get("deleteAfter")
            if delete_after is not None and _days(delete_after) < ctx.retention_days:
                return (
                    f"rule '{name}'{where} deletes recovery points after {_days(delete_after):g} "
                    f"day(s); tier '{ctx.tier_name}' needs {ctx.retention_days}"
                )
    return None


def backup_plan_offsite_copy(resource: ResourceView, ctx: GuardrailContext) -> str | None:
    for rule in _props(resource).get("rules") or []:
        name = rule.get("ruleName", "?")
        copies = [c for c in rule.get("copyActions") or [] if c.get("destinationVaultArn")]
        if not copies:
            return f"rule '{name}' makes no off-site copy (no copy action to another vault)"
        for copy in copies:
            region = _arn_region(str(copy["destinationVaultArn"]))
            if region is not None and region == resource["region"]:
                return f"rule '{name}' copies into its own region ({region}): that is not off-site"
    return None


def backup_plan_frequency(resource: ResourceView, ctx: GuardrailContext) -> str | None:
    want = ctx.tier.backup_frequency
    for rule in _props(resource).get("rules") or []:
        schedule = str(rule.get("schedule") or "")
        gap = longest_gap(schedule)
        if gap is None:
            return f"rule '{rule.get('ruleName', '?')}': cannot tell how often {schedule!r} runs"
        if gap > want:
            return (
                f"rule '{rule.get('ruleName', '?')}' runs every {format_duration(gap)}; tier "
                f"'{ctx.tier_name}' needs a backup every {format_duration(want)}"
            )
    return None


def backup_vault_encrypted(resource: ResourceView, ctx: GuardrailContext) -> str | None:
    if not _props(resource).get("kmsKeyArn"):
        return "the vault uses the AWS-managed key: set kmsKeyArn to a customer-managed key"
    return None


def vault_lock(resource: ResourceView, ctx: GuardrailContext) -> str | None:
    props = _props(resource)
    got = _days(props.get("minRetentionDays"))
    if got < ctx.retention_days:
        return (
            f"Vault Lock lets recovery points go after {got:g} day(s); tier '{ctx.tier_name}' "
            f"needs {ctx.retention_days}"
        )
    if ctx.tier.object_lock_mode == "COMPLIANCE" and props.get("changeableForDays") is None:
        return f"governance-mode Vault Lock; tier '{ctx.tier_name}' requires compliance mode"
    return None


def s3_versioning(resource: ResourceView, ctx: GuardrailContext) -> str | None:
    status = (_props(resource).get("versioningConfiguration") or {}).get("status")
    if status != "Enabled":
        return f"versioning is {status or 'off'}: an overwrite or delete loses the only copy"
    return None


def s3_encryption(resource: ResourceView, ctx: GuardrailContext) -> str | None:
    rules = _props(resource).get("rules") or []
    if not rules:
        return "no default encryption rule"
    for rule in rules:
        default = rule.get("applyServerSideEncryptionByDefault") or {}
        if default.get("sseAlgorithm") not in ("aws:kms", "aws:kms:dsse"):
            return f"default encryption is {default.get('sseAlgorithm') or 'unset'}, not SSE-KMS"
        if not default.get("kmsMasterKeyId"):
            return "SSE-KMS with the AWS-managed key: name a customer-managed key"
    return None


def s3_object_lock(resource: ResourceView, ctx: GuardrailContext) -> str | None:
    props = _props(resource)
    if props.get("objectLockEnabled", "Enabled") != "Enabled":
        return "Object Lock is not enabled"
    retention = (props.get("rule") or {}).get("defaultRetention") or {}
    mode = str(retention.get("mode") or "")
    if _LOCK_RANK.get(mode, -1) < _LOCK_RANK[ctx.tier.object_lock_mode]:
        return (
            f"default retention mode is {mode or 'unset'}; tier '{ctx.tier_name}' requires {ctx.tier.object_lock_mode}"
        )
    days = _days(retention.get("days")) or _days(retention.get("years")) * 365
    if days < ctx.retention_days:
        return f"objects are locked for {days:g} day(s); tier '{ctx.tier_name}' needs {ctx.retention_days}"
    return None


def s3_public_access_block(resource: ResourceView, ctx: GuardrailContext) -> str | None:
    props = _props(resource)
    flags = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    open_flags = [flag for flag in flags if props.get(flag) is not True]
    if open_flags:
        return f"public access is not fully blocked ({', '.join(open_flags)} not true)"
    return None


def dns_ttl(resource: ResourceView, ctx: GuardrailContext) -> str | None:
    props = _props(resource)
    if props.get("aliases"):
        return None
    ttl = props.get("ttl")
    if ttl is None:
        return "the record has no TTL"
    if _days(ttl) > MAX_DNS_TTL:
        return f"TTL {_days(ttl):g}s; clients would cache the failed region for over {MAX_DNS_TTL}s"
    return None


def dns_failover_health_check(resource: ResourceView, ctx: GuardrailContext) -> str | None:
    props = _props(resource)
    kinds = [policy.get("type") for policy in props.get("failoverRoutingPolicies") or []]
    if "PRIMARY" in kinds and not props.get("healthCheckId"):
        return "the PRIMARY failover record has no health check: Route 53 could never fail over"
    return None


def dns_health_check_data_plane(resource: ResourceView, ctx: GuardrailContext) -> str | None:
    props = _props(resource)
    kind = props.get("type")
    if kind not in DATA_PLANE_HEALTH_CHECKS:
        return (
            f"a {kind} health check follows the endpoint, not the DR side's decision; use "
            f"{' or '.join(DATA_PLANE_HEALTH_CHECKS)} so failover needs no Route 53 control plane"
        )
    alarm_region = props.get("cloudwatchAlarmRegion")
    if kind == "CLOUDWATCH_METRIC" and ctx.primary_region and alarm_region == ctx.primary_region:
        return f"its alarm lives in the primary region ({alarm_region}), which may be the one down"
    return None


def kms_key_rotation(resource: ResourceView, ctx: GuardrailContext) -> str | None:
    if _props(resource).get("enableKeyRotation") is not True:
        return "automatic key rotation is off"
    return None


def iam_protects_recovery_points(resource: ResourceView, ctx: GuardrailContext) -> str | None:
    document = parse_document(_props(resource).get("policy"))
    if document is None:
        return "the policy is not a JSON policy document"
    offending = destructive_actions(document)
    if offending:
        return f"grants actions that destroy recovery points or lift locks: {', '.join(offending)}"
    return None


def _arn_region(arn: str) -> str | None:
    parts = arn.split(":")
    return parts[3] or None if len(parts) > 4 and parts[0] == "arn" else None


def _rule(name: str, description: str, check: Check, *types: str) -> ResourceRule:
    return ResourceRule(name, description, frozenset(types), check)


RESOURCE_RULES: tuple[ResourceRule, ...] = (
    _rule("rds-encrypted", "RDS storage is encrypted", rds_encrypted, RDS_INSTANCE),
    _rule(
        "rds-deletion-protection",
        "RDS deletion protection is on",
        rds_deletion_protection,
        RDS_INSTANCE,
    ),
    _rule("rds-multi-az", "the primary database is Multi-AZ", rds_multi_az, RDS_INSTANCE),
    _rule(
        "rds-backup-retention",
        "RDS automated backups are kept as long as the tier asks",
        rds_backup_retention,
        RDS_INSTANCE,
    ),
    _rule(
        "rds-backup-replication-retention",
        "off-site RDS backups are kept as long as the tier asks",
        rds_backup_replication_retention,
        RDS_BACKUP_REPLICATION,
    ),
    _rule(
        "backup-plan-retention",
        "AWS Backup keeps recovery points as long as the tier asks",
        backup_plan_retention,
        BACKUP_PLAN,
    ),
    _rule(
        "backup-plan-offsite-copy",
        "every backup rule copies to a vault in another region",
        backup_plan_offsite_copy,
        BACKUP_PLAN,
    ),
    _rule(
        "backup-plan-frequency",
        "backups run at least as often as the tier asks",
        backup_plan_frequency,
        BACKUP_PLAN,
    ),
    _rule(
        "backup-vault-encrypted",
        "backup vaults use a customer-managed KMS key",
        backup_vault_encrypted,
        BACKUP_VAULT,
    ),
    _rule("vault-lock", "Vault Lock retention and mode meet the tier", vault_lock, VAULT_LOCK),
    _rule("s3-versioning", "buckets are versioned", s3_versioning, S3_VERSIONING),
    _rule("s3-encryption", "buckets default to SSE-KMS", s3_encryption, S3_ENCRYPTION),
    _rule(
        "s3-object-lock",
        "Object Lock retention and mode meet the tier",
        s3_object_lock,
        S3_OBJECT_LOCK,
    ),
    _rule(
        "s3-public-access-block",
        "buckets block public access",
        s3_public_access_block,
        S3_PUBLIC_ACCESS,
    ),
    _rule("dns-ttl", f"DNS records have a TTL of at most {MAX_DNS_TTL}s", dns_ttl, DNS_RECORD),
    _rule(
        "dns-failover-health-check",
        "the PRIMARY failover record has a health check",
        dns_failover_health_check,
        DNS_RECORD,
    ),
    _rule(
        "dns-health-check-data-plane",
        "failover health checks are controlled from the DR side",
        dns_health_check_data_plane,
        HEALTH_CHECK,
    ),
    _rule("kms-key-rotation", "KMS keys rotate", kms_key_rotation, KMS_KEY),
    _rule(
        "iam-protects-recovery-points",
        "no inline policy may delete recovery points, snapshots or backups, or lift a lock",
        iam_protects_recovery_points,
        ROLE_POLICY,
    ),
)
