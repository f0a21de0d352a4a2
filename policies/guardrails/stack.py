"""Rules judged once over the whole stack: what must exist somewhere, and where.

Per-resource rules check that a vault lock is long enough; these check that there is one at
all, outside the primary region, and that the standby the strategy promises was declared.
"""

from collections.abc import Sequence
from datetime import timedelta

from policies.durations import format_duration
from policies.guardrails.model import (
    AUTOSCALING_GROUP,
    DNS_RECORD,
    RDS_BACKUP_REPLICATION,
    RDS_INSTANCE,
    S3_OBJECT_LOCK,
    S3_REPLICATION,
    VAULT_LOCK,
    GuardrailContext,
    ResourceView,
    StackRule,
)
from policies.sla import Tier

STRATEGY_FLOORS: dict[str, tuple[timedelta, timedelta]] = {
    "backup-restore": (timedelta(hours=4), timedelta(hours=1)),
    "pilot-light": (timedelta(minutes=30), timedelta(minutes=1)),
    "warm-standby": (timedelta(minutes=5), timedelta(seconds=10)),
}
"""(RTO, RPO) each strategy can be expected to deliver at best. Estimates in line with AWS's
published ranges (backup & restore: hours; pilot light: tens of minutes; warm standby:
minutes, RPO seconds). A tier that asks for less is a promise the stack cannot keep; drills
measure what it really delivers."""


def strategy_limitation(strategy: str, tier_name: str, tier: Tier) -> str | None:
    """Why `strategy` cannot meet `tier`, or None."""
    floor = STRATEGY_FLOORS.get(strategy)
    if floor is None:
        return f"unknown strategy '{strategy}' (known: {', '.join(STRATEGY_FLOORS)})"
    rto, rpo = floor
    for what, wanted, best in (("RTO", tier.rto, rto), ("RPO", tier.rpo, rpo)):
        if wanted < best:
            return (
                f"{strategy} delivers an {what} of about {format_duration(best)} at best; tier "
                f"'{tier_name}' asks for {format_duration(wanted)}"
            )
    return None


def _of_type(resources: Sequence[ResourceView], kind: str) -> list[ResourceView]:
    return [resource for resource in resources if resource["type"] == kind]


def _off_site(resources: Sequence[ResourceView], kind: str, ctx: GuardrailContext) -> bool:
    return any(
        resource["region"] is not None and resource["region"] != ctx.primary_region
        for resource in _of_type(resources, kind)
    )


def _needs_primary(ctx: GuardrailContext) -> str | None:
    return None if ctx.primary_region else "cannot tell which region is primary"


def offsite_backup_vault(resources: Sequence[ResourceView], ctx: GuardrailContext) -> str | None:
    if _needs_primary(ctx):
        return _needs_primary(ctx)
    if not _off_site(resources, VAULT_LOCK, ctx):
        return f"no locked backup vault outside the primary region {ctx.primary_region}"
    return None


def offsite_object_lock(resources: Sequence[ResourceView], ctx: GuardrailContext) -> str | None:
    if _needs_primary(ctx):
        return _needs_primary(ctx)
    if not _off_site(resources, S3_OBJECT_LOCK, ctx):
        return f"no Object Lock bucket outside the primary region {ctx.primary_region}"
    return None


def attachments_replicated(resources: Sequence[ResourceView], ctx: GuardrailContext) -> str | None:
    for config in _of_type(resources, S3_REPLICATION):
        if any(rule.get("status") == "Enabled" for rule in config["props"].get("rules") or []):
            return None
    return "no enabled S3 replication: attachments have no off-site copy"


def rds_backups_replicated(resources: Sequence[ResourceView], ctx: GuardrailContext) -> str | None:
    primaries = [db for db in _of_type(resources, RDS_INSTANCE) if not db["props"].get("replicateSourceDb")]
    if not primaries:
        return None
    if _needs_primary(ctx):
        return _needs_primary(ctx)
    if not _off_site(resources, RDS_BACKUP_REPLICATION, ctx):
        return "RDS automated backups are not replicated to another region"
    return None


def standby_matches_strategy(resources: Sequence[ResourceView], ctx: GuardrailContext) -> str | None:
    if ctx.strategy in (None, "backup-restore"):
        return None
    if _needs_primary(ctx):
        return _needs_primary(ctx)
    replicas = [
        db
        for db in _of_type(resources, RDS_INSTANCE)
        if db["props"].get("replicateSourceDb") and db["region"] != ctx.primary_region
    ]
    if not replicas:
        return f"{ctx.strategy} needs a cross-region read replica; none is declared"
    if ctx.strategy == "warm-standby":
        running = [
            group
            for group in _of_type(resources, AUTOSCALING_GROUP)
            if group["region"] != ctx.primary_region and float(group["props"].get("desiredCapacity") or 0) >= 1
        ]
        if not running:
            return "warm-standby needs a running (scaled-down) app tier in the DR region"
    return None


def strategy_fits_tier(resources: Sequence[ResourceView], ctx: GuardrailContext) -> str | None:
    if ctx.strategy is None:
        return "cannot tell the DR strategy"
    return strategy_limitation(ctx.strategy, ctx.tier_name, ctx.tier)


def dns_failover_pair(resources: Sequence[ResourceView], ctx: GuardrailContext) -> str | None:
    kinds = {
        policy.get("type")
        for record in _of_type(resources, DNS_RECORD)
        for policy in record["props"].get("failoverRoutingPolicies") or []
    }
    missing = [kind for kind in ("PRIMARY", "SECONDARY") if kind not in kinds]
    if missing:
        return f"no {' and no '.join(missing)} failover record"
    return None


STACK_RULES: tuple[StackRule, ...] = (
    StackRule(
        "offsite-backup-vault",
        "a locked AWS Backup vault exists outside the primary region",
        offsite_backup_vault,
    ),
    StackRule(
        "offsite-object-lock",
        "an Object Lock bucket exists outside the primary region",
        offsite_object_lock,
    ),
    StackRule("attachments-replicated", "attachments are replicated off-site", attachments_replicated),
    StackRule(
        "rds-backups-replicated",
        "RDS automated backups are replicated to another region",
        rds_backups_replicated,
    ),
    StackRule(
        "standby-matches-strategy",
        "the standby the strategy promises is declared",
        standby_matches_strategy,
    ),
    StackRule("strategy-fits-tier", "the DR strategy can meet the tier's RTO and RPO", strategy_fits_tier),
    StackRule("dns-failover-pair", "PRIMARY and SECONDARY failover records exist", dns_failover_pair),
)
