"""The world an RDS failover acts on: instances in both regions, DNS, lock, notices, mirror.

Opening it reads the old primary once: a primary region whose API does not answer is data
(`unreachable`), not an error, because that is what a regional outage looks like.
"""

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from policies.errors import CloudError, ConfigError, DrError
from policies.sla import Tier, load_policy
from recovery.adapters.app_config import AppHosts
from recovery.adapters.clock import SystemClock
from recovery.adapters.dynamo_lock import DynamoLock
from recovery.adapters.postgres import connect
from recovery.adapters.rds import RdsInstances
from recovery.adapters.route53_dns import Route53Dns
from recovery.adapters.s3_store import S3ObjectStore
from recovery.adapters.secrets import optional_secret
from recovery.adapters.sns_notifier import SnsNotifier
from recovery.inventory import Inventory, RdsNode, inventory_tier
from recovery.ports import Clock, Dns, Lock, Notifier, ObjectStore
from recovery.runbooks.decisions import Truth, dns_truth
from recovery.runbooks.site import open_apps

log = logging.getLogger(__name__)


@dataclass
class RdsSite:
    inventory: Inventory
    tier: Tier
    rds: RdsInstances
    dns: Dns
    lock: Lock
    notifier: Notifier
    store: ObjectStore
    clock: Clock
    unreachable: str | None = None
    db_password: str | None = None
    secrets: list[str] = field(default_factory=list)
    apps: AppHosts | None = None

    @property
    def primary(self) -> RdsNode:
        node = self.inventory.database.primary
        if not isinstance(node, RdsNode):
            raise ConfigError("database.primary is not an RDS instance")
        return node

    @property
    def standby(self) -> RdsNode:
        node = self.inventory.database.standby
        if not isinstance(node, RdsNode):
            raise ConfigError("database.standby is not an RDS instance")
        return node

    def old(self) -> dict[str, Any] | None:
        """The old primary as its region describes it now."""
        return self.rds.describe(self.primary.region, self.primary.instance_id)

    def instance(self, instance_id: str) -> dict[str, Any] | None:
        return self.rds.describe(self.inventory.regions.dr, instance_id)

    def endpoint(self, instance_id: str) -> str:
        found = self.instance(instance_id) or {}
        address = (found.get("Endpoint") or {}).get("Address")
        if not address:
            raise CloudError(f"RDS instance {instance_id} has no endpoint yet")
        return str(address)

    def dns_truth(self, address: str) -> Truth:
        return dns_truth(self.dns.records(), address, address)

    def point_dns(self, address: str) -> str:
        checks = self.inventory.dns.health_checks
        self.dns.point_to((address, checks.primary), (address, checks.secondary), kind="CNAME")
        return f"{self.inventory.dns.record_name} CNAME PRIMARY and SECONDARY -> {address}"

    def sql_check(self, address: str, port: int) -> str | None:
        """A write transaction on the new primary, or None when SQL cannot reach it from here."""
        db = self.inventory.database
        try:
            with connect(address, port, user=db.user, password=self.db_password, dbname=db.name,
                         timeout=5) as conn:
                row = conn.execute("SELECT pg_is_in_recovery(), txid_current()").fetchone()
        except DrError as err:
            log.info("no SQL check of %s: %s", address, err)
            return None
        return "sql: committed a write transaction" if row and row[0] is False else "sql: read-only"

    def close(self) -> None:
        if self.apps is not None:
            self.apps.close()


def open_rds_site(inventory: Inventory, policy_path: Path | None = None) -> RdsSite:
    db = inventory.database
    password = optional_secret(db.password, inventory)
    tier = inventory_tier(inventory, load_policy(policy_path))
    site = RdsSite(inventory=inventory, tier=tier, rds=RdsInstances(inventory), dns=Route53Dns(inventory),
                   lock=DynamoLock(inventory), notifier=SnsNotifier(inventory), store=S3ObjectStore(inventory),
                   clock=SystemClock(), db_password=password, secrets=[password] if password else [],
                   apps=open_apps(inventory))
    try:
        site.old()
    except CloudError as err:
        site.unreachable = str(err)
    return site
