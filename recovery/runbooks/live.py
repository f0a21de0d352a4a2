"""`inventory check --live`: does each part the inventory names answer, as recovery will need it?

A valid file can still name a host whose key changed, a bucket that is gone or a lock table
nobody created; recovery would find out on the bad day. Each part is asked once, read-only.
"""

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from policies.errors import DrError
from recovery.inventory import Inventory
from recovery.runbooks.site import Site, open_site


@dataclass(frozen=True)
class PartCheck:
    """One part of the topology: `problem` None when it answered (then `detail` says what it said)."""

    part: str
    detail: str
    problem: str | None = None


def _ask(part: str, question: Callable[[], str]) -> PartCheck:
    try:
        return PartCheck(part, question())
    except DrError as err:
        return PartCheck(part, "", str(err))


def _database(site: Site, name: str) -> PartCheck:
    host = site.host(name)
    if name in site.unreachable:
        return PartCheck(f"ssh {name} ({host.node.host}:{host.node.ssh_port})", "", site.unreachable[name])
    role = host.in_recovery()
    if role is None:
        return PartCheck(f"PostgreSQL {name} ({host.node.host}:{host.node.pg_port})", "",
                         "does not answer (ssh answered)")
    return PartCheck(f"ssh + PostgreSQL {name} ({host.node.host})", "standby (in recovery)" if role else "primary")


def live_checks(inventory: Inventory, policy_path: Path | None = None) -> list[PartCheck]:
    """Every part asked once: database hosts (ssh, PostgreSQL), DR bucket, lock table, DNS records."""
    site = open_site(inventory, policy_path)
    try:
        found = [_database(site, name) for name in site.hosts]
        backup = inventory.backup
        found.append(_ask(f"DR bucket s3://{backup.bucket}/{backup.prefix}",
                          lambda: f"answered ({'no ' if site.store.head('inventory.json') is None else ''}"
                                  "inventory copy)"))
        found.append(_ask(f"lock table {inventory.lock.table} ({inventory.lock.region})",
                          lambda: "held" if site.lock.current() else "answered, free"))
        found.append(_ask(f"Route 53 {inventory.dns.record_name}",
                          lambda: f"resolves to {site.dns.resolve()}"))
        return found
    finally:
        site.close()
