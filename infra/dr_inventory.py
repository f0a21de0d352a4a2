"""The `dr_inventory` stack output, built from resolved values (pure: no Pulumi import).

Validated against `recovery.inventory.Inventory` on the way out, so a program that would
hand recovery a topology it cannot read fails at `pulumi up`, not during an outage.
"""

from dataclasses import dataclass
from typing import Any, Literal

from recovery.inventory import Inventory

BACKUP_PREFIX = "crm/"
INVENTORY_KEY = f"{BACKUP_PREFIX}inventory.json"
"""Where the inventory copy lives in the DR-region backup bucket (where the lab puts it too)."""
PRIMARY_SET_ID = "primary"
SECONDARY_SET_ID = "secondary"


@dataclass(frozen=True)
class InventoryFacts:
    """Every value the inventory needs, already resolved to plain strings."""

    stack: str
    environment: Literal["staging", "production"]
    sla_tier: str
    primary_region: str
    dr_region: str
    strategy: str
    db_name: str
    db_user: str
    db_secret_name: str
    primary_instance_id: str
    primary_endpoint: str
    standby_instance_id: str
    standby_endpoint: str | None
    backup_bucket: str
    backup_kms_key_arn: str
    zone_id: str
    zone: str
    record_name: str
    ttl: int
    primary_health_check_id: str
    lock_table: str
    topic_arn: str
    status_url: str | None = None  # the customer status page (CloudFront) and its DR-region bucket
    status_bucket: str | None = None
    status_prefix: str = "status/"
    intake_url: str | None = None
    intake_table: str | None = None


def build_inventory(facts: InventoryFacts) -> dict[str, Any]:
    """The inventory document; raises pydantic.ValidationError if the contract is broken."""
    inventory = Inventory.model_validate(
        {
            "stack": facts.stack,
            "environment": facts.environment,
            "sla_tier": facts.sla_tier,
            "regions": {"primary": facts.primary_region, "dr": facts.dr_region},
            "database": _database(facts),
            "backup": {
                "bucket": facts.backup_bucket,
                "prefix": BACKUP_PREFIX,
                "region": facts.dr_region,
                "kms_key_id": facts.backup_kms_key_arn,
                "object_lock": True,
            },
            "dns": {
                "zone_id": facts.zone_id,
                "zone": facts.zone,
                "record_name": facts.record_name,
                "ttl": facts.ttl,
                "primary_set_id": PRIMARY_SET_ID,
                "secondary_set_id": SECONDARY_SET_ID,
                "health_checks": {"primary": facts.primary_health_check_id},
            },
            "lock": {"table": facts.lock_table, "region": facts.dr_region},
            "notify": {"topic_arn": facts.topic_arn},
            "status": {"url": facts.status_url, "bucket": facts.status_bucket, "prefix": facts.status_prefix}
            if facts.status_url else None,
            "intake": {"url": facts.intake_url, "table": facts.intake_table, "region": facts.dr_region,
                       "kms_key_id": facts.backup_kms_key_arn} if facts.intake_url and facts.intake_table else None,
        }
    )
    return inventory.model_dump(mode="json", exclude_none=True)


def _database(facts: InventoryFacts) -> dict[str, Any]:
    """RDS nodes; without a replica the standby is the instance a restore will create."""
    standby_role = "replica" if facts.standby_endpoint else "restore-target"
    return {
        "engine": "rds",
        "name": facts.db_name,
        "user": facts.db_user,
        "password": {"secretsmanager": facts.db_secret_name},
        "synchronous": False,
        "primary": {
            "name": "primary",
            "instance_id": facts.primary_instance_id,
            "region": facts.primary_region,
            "endpoint": facts.primary_endpoint,
            "tags": {"crm-dr:role": "primary"},
        },
        "standby": {
            "name": "standby",
            "instance_id": facts.standby_instance_id,
            "region": facts.dr_region,
            "endpoint": facts.standby_endpoint,
            "tags": {"crm-dr:role": standby_role, "crm-dr:strategy": facts.strategy},
        },
    }
