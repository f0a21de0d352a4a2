"""Stack configuration: a typed model checked before the program declares any resource.

Pure (no Pulumi import): the program feeds it `pulumi.Config` values, `crmdr plan` feeds it a
stack config file, and both get the same verdict. Keys are the `crm-dr:` names users type
(`crm-dr:primaryRegion`); values may arrive as strings, as Pulumi passes them.
"""

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from ipaddress import IPv4Network
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic.alias_generators import to_camel

from policies.documents import describe_error, line_of
from policies.durations import Duration
from policies.errors import ConfigError
from policies.schedules import backup_cron
from policies.sla import LockMode, Tier, load_policy

NAMESPACE = "crm-dr"
PASSWORD_KEY = "dbPassword"  # noqa: S105 (a config key name, not a password)
"""The one secret key (`pulumi config set --secret crm-dr:dbPassword`), kept out of the model."""
Strategy = Literal["backup-restore", "pilot-light", "warm-standby"]
STRATEGIES: tuple[Strategy, ...] = ("backup-restore", "pilot-light", "warm-standby")
RDS_MAX_RETENTION_DAYS = 35
"""RDS keeps automated backups for 35 days at most; AWS Backup keeps the longer history."""


def _json_if_text(value: Any) -> Any:
    """Pulumi hands structured config to programs as JSON text."""
    if isinstance(value, str) and value.lstrip().startswith(("{", "[")):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


Region = Annotated[str, Field(pattern=r"^[a-z]{2}(-[a-z]+)+-\d+$")]
SubnetId = Annotated[str, Field(pattern=r"^subnet-[0-9a-f]+$")]
DomainName = Annotated[str, Field(pattern=r"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,}\.?$")]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", alias_generator=to_camel, populate_by_name=True)


class ExistingVpc(_Model):
    """A VPC the primary stack joins instead of creating one (two AZs' worth of subnets)."""

    id: str = Field(pattern=r"^vpc-[0-9a-f]+$")
    private_subnet_ids: list[SubnetId] = Field(min_length=2)
    public_subnet_ids: list[SubnetId] = Field(min_length=2)


class StackSettings(_Model):
    """Everything a stack may configure; defaults are production-sensible, sizes are small."""

    primary_region: Region
    dr_region: Region
    strategy: Strategy
    sla_tier: str = Field(min_length=1)
    policy_file: str | None = None
    environment: Literal["staging", "production"] = "production"
    backup_retention: Duration | None = None
    vault_lock_mode: LockMode | None = None
    vault_lock_cooling_off_days: int = Field(default=3, ge=3, le=36500)
    primary_vpc_cidr: IPv4Network = IPv4Network("10.20.0.0/16")
    dr_vpc_cidr: IPv4Network = IPv4Network("10.21.0.0/16")
    existing_vpc: Annotated[ExistingVpc | None, BeforeValidator(_json_if_text)] = None
    hosted_zone_id: str | None = Field(default=None, pattern=r"^Z[0-9A-Z]{4,}$")
    dns_zone_name: DomainName
    app_record_name: DomainName | None = None
    db_record_name: DomainName | None = None
    dns_ttl: int = Field(default=30, ge=1, le=60)
    db_instance_class: str = Field(default="db.r6g.large", pattern=r"^db\.[a-z0-9]+\.[a-z0-9]+$")
    standby_db_instance_class: str | None = Field(default=None, pattern=r"^db\.[a-z0-9]+\.[a-z0-9]+$")
    db_allocated_storage: int = Field(default=100, ge=20, le=65536)
    db_engine_version: str = Field(default="15", pattern=r"^\d+(\.\d+)?$")
    db_name: str = Field(default="crm", pattern=r"^[a-z][a-z0-9_]{0,62}$")
    db_username: str = Field(default="crmdr", pattern=r"^[a-z][a-z0-9_]{0,62}$")
    app_instance_type: str = Field(default="t3.medium", pattern=r"^[a-z0-9]+\.[a-z0-9]+$")
    app_min_size: int = Field(default=2, ge=1, le=100)
    app_max_size: int = Field(default=4, ge=1, le=100)
    app_desired_capacity: int = Field(default=2, ge=1, le=100, validate_default=True)
    standby_app_capacity: int = Field(default=1, ge=1, le=100)
    app_port: int = Field(default=8080, ge=1024, le=65535)
    app_health_check_path: str = Field(default="/health", pattern=r"^/\S*$")
    app_ami_parameter: str = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"
    primary_certificate_arn: str | None = Field(default=None, pattern=r"^arn:aws[a-z-]*:acm:")
    dr_certificate_arn: str | None = Field(default=None, pattern=r"^arn:aws[a-z-]*:acm:")
    drill_runner_image: str = Field(min_length=3)
    aws_cli_image: str = Field(default="public.ecr.aws/aws-cli/aws-cli:latest", min_length=3)

    @field_validator("dr_region")
    @classmethod
    def _off_site(cls, value: str, info: ValidationInfo) -> str:
        if value == info.data.get("primary_region"):
            raise ValueError(
                f"expected a region other than primaryRegion ('{value}'): a copy in the same region is not off-site"
            )
        return value

    @field_validator("primary_vpc_cidr", "dr_vpc_cidr")
    @classmethod
    def _room_for_subnets(cls, value: IPv4Network, info: ValidationInfo) -> IPv4Network:
        if value.prefixlen > 20:
            raise ValueError(f"expected a /20 or larger network (four /24 subnets), got {value}")
        primary = info.data.get("primary_vpc_cidr")
        if info.field_name == "dr_vpc_cidr" and primary is not None and value.overlaps(primary):
            raise ValueError(f"expected a network that does not overlap primaryVpcCidr {primary}")
        return value

    @field_validator("app_desired_capacity")
    @classmethod
    def _within_bounds(cls, value: int, info: ValidationInfo) -> int:
        low, high = info.data.get("app_min_size"), info.data.get("app_max_size")
        if low is not None and high is not None and not low <= value <= high:
            raise ValueError(f"expected appMinSize ({low}) <= {value} <= appMaxSize ({high})")
        return value

    @field_validator("app_record_name", "db_record_name")
    @classmethod
    def _inside_zone(cls, value: str | None, info: ValidationInfo) -> str | None:
        zone = str(info.data.get("dns_zone_name", "")).rstrip(".")
        if value is not None and zone:
            record = value.rstrip(".")
            if not (record == zone or record.endswith("." + zone)):
                raise ValueError(f"expected a name inside dnsZoneName '{zone}', got '{value}'")
        return value

    @property
    def zone(self) -> str:
        return self.dns_zone_name.rstrip(".")

    @property
    def app_record(self) -> str:
        """The name users type; fails over between the two load balancers."""
        return (self.app_record_name or f"crm.{self.zone}").rstrip(".")

    @property
    def db_record(self) -> str:
        """The name the app and the write probe connect to; fails over with the database."""
        return (self.db_record_name or f"db.{self.zone}").rstrip(".")


def config_keys() -> list[str]:
    """The `crm-dr:` keys the program reads (without the namespace)."""
    return [field.alias or name for name, field in StackSettings.model_fields.items()]


@dataclass(frozen=True)
class Deployment:
    """Settings resolved against the SLA policy: every number the program needs, decided once."""

    project: str
    stack: str
    settings: StackSettings
    tier_name: str
    tier: Tier
    audit_period: timedelta

    @property
    def retention(self) -> timedelta:
        return self.settings.backup_retention or self.tier.retention

    @property
    def retention_days(self) -> int:
        return max(1, int(self.retention / timedelta(days=1)))

    @property
    def rds_retention_days(self) -> int:
        return min(self.retention_days, RDS_MAX_RETENTION_DAYS)

    @property
    def report_retention_days(self) -> int:
        """Drill reports are evidence: kept for the audit period at least."""
        return max(self.retention_days, int(self.audit_period / timedelta(days=1)))

    @property
    def lock_mode(self) -> LockMode:
        return self.settings.vault_lock_mode or self.tier.object_lock_mode

    @property
    def backup_schedule(self) -> str:
        return backup_cron(self.tier.backup_frequency)

    @property
    def prefix(self) -> str:
        """A physical-name prefix: lowercase, starts with a letter, short enough for RDS ids."""
        raw = re.sub(r"[^a-z0-9-]+", "-", f"{self.project}-{self.stack}".lower()).strip("-")
        prefix = re.sub(r"-{2,}", "-", raw)[:40].rstrip("-")
        return prefix if prefix[:1].isalpha() else f"crm-{prefix}"


def parse_settings(
    values: Mapping[str, Any],
    *,
    source: str,
    root: yaml.Node | None = None,
    under: tuple[str, ...] = (),
) -> StackSettings:
    """Validate raw `crm-dr:` values; ConfigError names the source, the key and, given the
    YAML node tree of a stack config file (`under` its `config` mapping), the line."""
    try:
        return StackSettings.model_validate(dict(values))
    except ValidationError as err:
        errors = err.errors(include_url=False)
        # A misspelt key also makes the real one "missing": name the misspelling first.
        first = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
        first["loc"] = tuple(_namespaced(first["loc"]))
        line = line_of(root, (*under, *first["loc"])) if root is not None and first["loc"] else None
        where = f"{source}: line {line}" if line else source
        raise ConfigError(describe_error(Path(where), None, first)) from None


def resolve(settings: StackSettings, *, project: str, stack: str, source: str) -> Deployment:
    """Look the tier up in the SLA policy and check what needs both settings and tier."""
    policy = load_policy(Path(settings.policy_file) if settings.policy_file else None)
    try:
        tier = policy.tier(settings.sla_tier)
    except ConfigError as err:
        raise ConfigError(f"{source}: field '{NAMESPACE}:slaTier': {err}") from None
    deployment = Deployment(project, stack, settings, settings.sla_tier, tier, policy.audit_period)
    if _lock_rank(deployment.lock_mode) < _lock_rank(tier.object_lock_mode):
        raise ConfigError(
            f"{source}: field '{NAMESPACE}:vaultLockMode': {deployment.lock_mode} is weaker than "
            f"tier '{settings.sla_tier}' requires ({tier.object_lock_mode})"
        )
    try:
        _ = deployment.backup_schedule
    except ValueError as err:
        raise ConfigError(f"{source}: tier '{settings.sla_tier}': {err}") from None
    return deployment


def load_deployment(values: Mapping[str, Any], *, project: str, stack: str, source: str) -> Deployment:
    """Parse and resolve in one step: what the program calls before declaring anything."""
    settings = parse_settings(values, source=source)
    return resolve(settings, project=project, stack=stack, source=source)


def _lock_rank(mode: LockMode) -> int:
    return {"GOVERNANCE": 0, "COMPLIANCE": 1}[mode]


def _namespaced(loc: tuple[Any, ...]) -> list[Any]:
    if not loc:
        return []
    return [f"{NAMESPACE}:{to_camel(str(loc[0]))}", *loc[1:]]
