"""The DR topology: the one contract between the Pulumi program, the lab and recovery.

Produced as the stack output `dr_inventory` and as the lab's `inventory.json`; a copy lives
in the DR-region bucket so recovery needs nothing from the failed region. Secrets appear
only as references (env var, file, SSM parameter, Secrets Manager name), never as values.
"""

import json
import weakref
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from policies.documents import load_document
from policies.durations import Duration
from policies.errors import ConfigError
from policies.sla import Policy, Tier, check_inventory_tier

Port = Annotated[int, Field(ge=1, le=65535)]
Name = Annotated[str, Field(min_length=1, max_length=255)]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SecretRef(_Model):
    """Where a secret is found; exactly one source. The value itself never enters a file."""

    env: str | None = None
    file: str | None = None
    ssm: str | None = None
    secretsmanager: str | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> "SecretRef":
        given = [name for name in ("env", "file", "ssm", "secretsmanager") if getattr(self, name)]
        if len(given) != 1:
            raise ValueError("expected exactly one of env, file, ssm or secretsmanager")
        return self

    def describe(self) -> str:
        """A printable name for the reference (never the value)."""
        for name in ("env", "file", "ssm", "secretsmanager"):
            value = getattr(self, name)
            if value:
                return f"{name}:{value}"
        return "none"


class Regions(_Model):
    primary: Name
    dr: Name

    @model_validator(mode="after")
    def _distinct(self) -> "Regions":
        if self.primary == self.dr:
            raise ValueError("expected the DR region to differ from the primary region")
        return self


class Aws(_Model):
    """How to reach AWS; `endpoint_url` is set only for the lab's stand-in."""

    endpoint_url: str | None = None
    profile: str | None = None


class HostNode(_Model):
    """A self-managed PostgreSQL host reached over SSH with a pinned host key."""

    name: Name
    host: Name
    region: Name
    ssh_port: Port = 22
    user: Name
    known_hosts: Annotated[str, Field(min_length=1)]
    pg_port: Port = 5432
    data_dir: Name
    bin_dir: Name = "/usr/lib/postgresql/15/bin"
    tags: dict[str, str] = Field(default_factory=dict)
    instance_id: Name | None = None  # the EC2 instance, for isolation by security group

    @property
    def known_hosts_name(self) -> str:
        """The host as a known_hosts line names it (`[host]:port` off port 22)."""
        return self.host if self.ssh_port == 22 else f"[{self.host}]:{self.ssh_port}"


class RdsNode(_Model):
    """An RDS instance (primary or cross-region read replica)."""

    name: Name
    instance_id: Name
    region: Name
    endpoint: str | None = None
    pg_port: Port = 5432
    tags: dict[str, str] = Field(default_factory=dict)


class Ec2Isolation(_Model):
    """Swap the host's security groups for `security_group_id`, a group with no rules."""

    method: Literal["ec2-security-group"]
    security_group_id: Name


class LocalFirewallIsolation(_Model):
    """iptables on the machine running crmdr: isolates the host from this machine's clients only."""

    method: Literal["local-firewall"]


Isolation = Annotated[Ec2Isolation | LocalFirewallIsolation, Field(discriminator="method")]


class Database(_Model):
    engine: Literal["hosts", "rds"]
    name: Name = "crm"
    user: Name = "crmdr"
    password: SecretRef | None = None
    replication_user: Name = "replicator"
    replication_password: SecretRef | None = None
    synchronous: bool = False
    primary: HostNode | RdsNode
    standby: HostNode | RdsNode
    isolation: Isolation | None = None  # how to fence a host that cannot be reached

    @model_validator(mode="after")
    def _nodes_match_engine(self) -> "Database":
        wanted = HostNode if self.engine == "hosts" else RdsNode
        for role in ("primary", "standby"):
            if not isinstance(getattr(self, role), wanted):
                raise ValueError(
                    f"expected database.{role} to describe "
                    f"{'an SSH host' if wanted is HostNode else 'an RDS instance'} "
                    f"for engine '{self.engine}'"
                )
        if self.primary.name == self.standby.name:
            raise ValueError("expected database.primary and database.standby to have distinct names")
        if isinstance(self.isolation, Ec2Isolation):
            for role in ("primary", "standby"):
                if not getattr(getattr(self, role), "instance_id", None):
                    raise ValueError(f"expected database.{role}.instance_id: isolation by EC2 security group "
                                     "swaps the groups of that instance")
        return self

    def nodes(self) -> list[HostNode | RdsNode]:
        return [self.primary, self.standby]

    def node(self, name: str) -> HostNode | RdsNode:
        for node in self.nodes():
            if node.name == name:
                return node
        known = ", ".join(node.name for node in self.nodes())
        raise KeyError(f"no database node named '{name}' (known: {known})")


class Ssh(_Model):
    """The client identity used for every host; a file reference, not key material."""

    identity_file: str | None = None
    connect_timeout: float = Field(default=5.0, gt=0)


class Backup(_Model):
    """The off-site bucket. `endpoint_url` puts it on another S3-compatible server (Route 53, DynamoDB
    and KMS keep `aws.endpoint_url`); `encryption` says who encrypts: the store (SSE-KMS) or crmdr,
    client-side with a KMS data key of `kms_key_id` (envelope), for stores that have no SSE-KMS."""

    bucket: Name
    prefix: str = "crm/"
    region: Name
    kms_key_id: Name
    object_lock: bool = True
    endpoint_url: str | None = None
    profile: str | None = None  # the AWS profile holding the store's keys; None: aws.profile
    ca_bundle: str | None = None  # a CA file for the store's TLS certificate (a private CA); None: the system's
    encryption: Literal["sse-kms", "envelope"] = "sse-kms"

    @field_validator("endpoint_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        parts = urlsplit(value or "")
        if value is not None and not (parts.scheme in ("http", "https") and parts.hostname
                                      and not parts.path.strip("/") and not parts.query):
            raise ValueError("expected the S3 server's base URL, http(s)://host[:port] (e.g. https://s3.example.net:9000)")
        if value is not None:
            try:
                parts.port  # noqa: B018  # raises on a port out of range
            except ValueError:
                raise ValueError("expected a port from 1 to 65535 in the S3 server's URL") from None
        return value


class HealthChecks(_Model):
    primary: str | None = None
    secondary: str | None = None


class Dns(_Model):
    zone_id: Name
    zone: Name
    record_name: Name
    ttl: int = Field(default=30, ge=1, le=60)
    primary_set_id: Name = "primary"
    secondary_set_id: Name = "secondary"
    health_checks: HealthChecks = Field(default_factory=HealthChecks)
    # Where applications resolve `record_name` ("host:port"): the data plane, never the
    # Route 53 API. None means the system resolver (as in AWS).
    resolver: str | None = None

    @field_validator("resolver")
    @classmethod
    def _host_and_port(cls, value: str | None) -> str | None:
        host, _, port = (value or "").rpartition(":")
        if value is not None and not (host.strip("[]") and port.isdigit() and 0 < int(port) < 65536):
            raise ValueError("expected host:port of a DNS server (e.g. 127.0.0.10:5353), or null (system resolver)")
        return value


class Lock(_Model):
    table: Name
    region: Name
    lease_seconds: int = Field(default=60, ge=5)


class Notify(_Model):
    topic_arn: Name


class StatusComponent(_Model):
    """A part of the CRM customers know by name, in each audience language."""

    id: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")]
    names: dict[str, Name]  # language -> display name, e.g. {"en": "Web app", "de": "Web-Anwendung"}


class StatusWebhook(_Model):
    """A subscriber's endpoint; its HMAC-SHA256 secret is a reference, never a value."""

    url: Name
    secret: SecretRef


def _default_components() -> list[StatusComponent]:
    return [StatusComponent(id="web-app", names={"en": "Web app", "de": "Web-Anwendung"}),
            StatusComponent(id="api", names={"en": "API", "de": "API"}),
            StatusComponent(id="email-intake", names={"en": "E-mail intake", "de": "E-Mail-Eingang"})]


class StatusPage(_Model):
    """The customer status page; it lives in the DR region so the primary's loss cannot take it down."""

    url: Name  # base URL: /feed.atom, /api/v2/summary.json, /api/v2/incidents.json under it
    bucket: Name | None = None  # DR-region bucket: the append-only update log and the published site
    prefix: str = "status/"
    name: Name = "CRM status"
    language: Literal["en", "de"] = "en"  # the audience's language for drafted messages
    components: list[StatusComponent] = Field(default_factory=_default_components, min_length=1)
    topic_arn: Name | None = None  # the customers' SNS topic (e-mail/SMS), apart from notify.topic_arn
    webhooks: list[StatusWebhook] = Field(default_factory=list)


class Intake(_Model):
    """The downtime intake: customer requests taken while the CRM is down, replayed afterwards.

    The table and key live in the DR region; personal fields are encrypted client-side with a
    data key from `kms_key_id` (envelope) and purged `purge_after` after the request is a case.
    """

    url: Name  # form at /, POST /api/requests
    table: Name = "crmdr-intake"
    region: Name | None = None  # None: the DR region
    kms_key_id: Name | None = None  # the DR key (id, ARN or alias); None: table SSE only, refused by the service
    purge_after: Duration = timedelta(days=30)
    rate_per_minute: int = Field(default=30, ge=1, le=100_000)  # accepted submissions per client address
    drill_account: Name | None = None  # the account drill requests are filed under (a test account)


class AppHost(_Model):
    """An application host whose database endpoint recovery re-points over SSH."""

    name: Name
    host: Name
    ssh_port: Port = 22
    user: Name
    known_hosts: Annotated[str, Field(min_length=1)]
    config_file: Name


class Inventory(_Model):
    """The whole DR topology."""

    version: Literal[1] = 1
    stack: Name
    environment: Literal["lab", "staging", "production"] = "production"
    sla_tier: Name
    regions: Regions
    aws: Aws = Field(default_factory=Aws)
    database: Database
    ssh: Ssh = Field(default_factory=Ssh)
    backup: Backup
    dns: Dns
    lock: Lock
    notify: Notify
    app_hosts: list[AppHost] = Field(default_factory=list)
    status: StatusPage | None = None
    intake: Intake | None = None

    @model_validator(mode="after")
    def _dr_side_in_dr_region(self) -> "Inventory":
        for what, region in (("backup.region", self.backup.region), ("lock.region", self.lock.region)):
            if region != self.regions.dr:
                raise ValueError(
                    f"expected {what} to be the DR region '{self.regions.dr}', got '{region}'"
                )
        return self

    def to_json(self) -> str:
        return json.dumps(self.model_dump(mode="json", exclude_none=True), indent=2, sort_keys=True)


def load_inventory(path: Path) -> Inventory:
    """Load an inventory file; ConfigError names the file, line and field."""
    inventory = load_document(path, Inventory, what="inventory")
    _SOURCES[id(inventory)] = path
    weakref.finalize(inventory, _SOURCES.pop, id(inventory), None)
    return inventory


_SOURCES: dict[int, Path] = {}
"""The file each loaded inventory came from, for messages (kept beside the model: equal contents stay equal)."""


def inventory_tier(inventory: Inventory, policy: Policy) -> Tier:
    """The tier the inventory names; an unknown one is a ConfigError naming the file, line and field."""
    if inventory.sla_tier in policy.tiers:
        return policy.tiers[inventory.sla_tier]
    source = _SOURCES.get(id(inventory))
    if source is not None:
        check_inventory_tier(policy, source)
    known = ", ".join(sorted(policy.tiers))
    raise ConfigError(f"inventory of stack '{inventory.stack}': field 'sla_tier': unknown SLA tier "
                      f"'{inventory.sla_tier}' (the policy defines: {known})")


def inventory_schema() -> dict[str, Any]:
    """The JSON Schema users validate their own generators against."""
    schema = Inventory.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://github.com/crm-dr/crm-dr/schemas/inventory-v1.json"
    return schema
