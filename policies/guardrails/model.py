"""The data a guardrail sees and returns: resource views, the context, rules and verdicts."""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypedDict

from policies.sla import Tier

RDS_INSTANCE = "aws:rds/instance:Instance"
RDS_BACKUP_REPLICATION = "aws:rds/instanceAutomatedBackupsReplication:InstanceAutomatedBackupsReplication"
BACKUP_PLAN = "aws:backup/plan:Plan"
BACKUP_VAULT = "aws:backup/vault:Vault"
VAULT_LOCK = "aws:backup/vaultLockConfiguration:VaultLockConfiguration"
S3_VERSIONING = "aws:s3/bucketVersioningV2:BucketVersioningV2"
S3_ENCRYPTION = "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2"
S3_OBJECT_LOCK = "aws:s3/bucketObjectLockConfigurationV2:BucketObjectLockConfigurationV2"
S3_PUBLIC_ACCESS = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
S3_REPLICATION = "aws:s3/bucketReplicationConfig:BucketReplicationConfig"
DNS_RECORD = "aws:route53/record:Record"
HEALTH_CHECK = "aws:route53/healthCheck:HealthCheck"
KMS_KEY = "aws:kms/key:Key"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
AUTOSCALING_GROUP = "aws:autoscaling/group:Group"

RDS_MAX_RETENTION_DAYS = 35
"""RDS keeps automated backups 35 days at most; AWS Backup keeps the longer history."""


class ResourceView(TypedDict):
    """One declared resource as plain data: type token, input properties, region."""

    type: str
    name: str
    region: str | None
    props: Mapping[str, Any]


@dataclass(frozen=True)
class GuardrailContext:
    """What the rules judge against: the tier, and where the primary region is."""

    tier_name: str
    tier: Tier
    primary_region: str | None = None
    strategy: str | None = None

    @property
    def retention_days(self) -> int:
        return max(1, int(self.tier.retention / timedelta(days=1)))


Check = Callable[[ResourceView, GuardrailContext], str | None]
StackCheck = Callable[[Sequence[ResourceView], GuardrailContext], str | None]


@dataclass(frozen=True)
class ResourceRule:
    """A rule judged once per resource of the listed types."""

    name: str
    description: str
    types: frozenset[str]
    check: Check


@dataclass(frozen=True)
class StackRule:
    """A rule judged once over the whole stack (presence of off-site copies, standby, ...)."""

    name: str
    description: str
    check: StackCheck


@dataclass(frozen=True)
class Verdict:
    """One rule's answer for one resource (or for the stack when `resource` is None)."""

    rule: str
    reason: str | None
    resource: str | None = None
    type: str | None = None
    region: str | None = None

    @property
    def passed(self) -> bool:
        return self.reason is None

    def describe(self) -> str:
        subject = f"{self.resource} ({self.type})" if self.resource else "stack"
        return f"{self.rule}: {subject}: {self.reason or 'ok'}"
