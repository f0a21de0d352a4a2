"""SLA tiers: the objectives every drill, backup and failover is judged against.

Loading is typed and line-aware; consistency (an RPO longer than the retention, a drill
cadence longer than the audit period, ...) is a pure function returning reasons, so the
same rules serve `crmdr policy check`, the drills and the Pulumi guardrails.
"""

from datetime import timedelta
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from policies.documents import Problem, line_of, load_shipped_or, read_document
from policies.durations import Duration, format_duration
from policies.errors import ConfigError

DrillType = Literal["backup-verify", "restore-test", "failover"]
DRILL_TYPES: tuple[DrillType, ...] = ("backup-verify", "restore-test", "failover")
LockMode = Literal["GOVERNANCE", "COMPLIANCE"]


class Tier(BaseModel):
    """Objectives of one service tier."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    description: str = ""
    rto: Duration
    rpo: Duration
    backup_frequency: Duration
    retention: Duration
    max_replication_lag: Duration
    status_notice_every: Duration
    automatic_status_notice: bool = True  # a declared outage publishes "investigating" at once; false: people decide
    drills: dict[DrillType, Duration]
    synchronous_replication: bool = False
    object_lock_mode: LockMode = "GOVERNANCE"
    production_drills_allowed: bool = False
    automatic_failover: bool = False
    watch_interval: Duration = Field(default=timedelta(seconds=1))
    watch_failures: int = Field(default=3, ge=1)


class Policy(BaseModel):
    """A policy file: the audit period and the named tiers."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: Literal[1] = 1
    audit_period: Duration = Field(default=timedelta(days=365))
    tiers: dict[str, Tier] = Field(min_length=1)

    def tier(self, name: str) -> Tier:
        """The named tier, or a ConfigError listing the ones that exist."""
        try:
            return self.tiers[name]
        except KeyError:
            known = ", ".join(sorted(self.tiers))
            raise ConfigError(f"unknown SLA tier '{name}' (the policy defines: {known})") from None



def policy_problems(policy: Policy) -> list[Problem]:
    """Inconsistencies a type cannot catch, each as (location, reason)."""
    problems: list[Problem] = []
    for name, tier in policy.tiers.items():
        here: tuple[str | int, ...] = ("tiers", name)
        for field in ("rto", "rpo", "backup_frequency", "status_notice_every", "watch_interval"):
            if getattr(tier, field) <= timedelta(0):
                problems.append(((*here, field), f"expected a duration above zero in tier '{name}'"))
        if tier.rpo > tier.retention:
            problems.append(
                (
                    (*here, "rpo"),
                    f"RPO {format_duration(tier.rpo)} is longer than the retention "
                    f"{format_duration(tier.retention)} of tier '{name}'",
                )
            )
        if tier.max_replication_lag > tier.rpo:
            problems.append(
                (
                    (*here, "max_replication_lag"),
                    f"maximum replication lag {format_duration(tier.max_replication_lag)} exceeds "
                    f"the RPO {format_duration(tier.rpo)} of tier '{name}'",
                )
            )
        missing = [kind for kind in DRILL_TYPES if kind not in tier.drills]
        if missing:
            problems.append(((*here, "drills"), f"no cadence for drill type(s) {', '.join(missing)}"))
        for kind, cadence in tier.drills.items():
            if cadence <= timedelta(0):
                problems.append(((*here, "drills", kind), "expected a cadence above zero"))
            elif cadence > policy.audit_period:
                problems.append(
                    (
                        (*here, "drills", kind),
                        f"{kind} cadence {format_duration(cadence)} is longer than the audit "
                        f"period {format_duration(policy.audit_period)}",
                    )
                )
    return problems


def load_policy(path: Path | None = None) -> Policy:
    """Load and check a policy file; None means the policy shipped with the toolkit."""
    return load_shipped_or(path, "tiers.yaml", Policy, what="SLA policy", problems=policy_problems)


def check_inventory_tier(policy: Policy, inventory_path: Path) -> str:
    """The tier an inventory names, or a ConfigError naming its file and line when it is unknown."""
    data, root = read_document(inventory_path, what="inventory")
    name = data.get("sla_tier")
    if not isinstance(name, str) or not name:
        raise ConfigError(f"{inventory_path}: field 'sla_tier' is required but missing")
    if name not in policy.tiers:
        line = line_of(root, ("sla_tier",))
        where = f"{inventory_path}: line {line}: " if line else f"{inventory_path}: "
        known = ", ".join(sorted(policy.tiers))
        raise ConfigError(f"{where}field 'sla_tier': unknown SLA tier '{name}' (the policy defines: {known})")
    return name
