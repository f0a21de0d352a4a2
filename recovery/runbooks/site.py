"""The world a runbook acts on: hosts (pinned SSH + SQL), DNS, lock, notices, journal mirror.

Opening the site connects to every database host first, so a host key that changed since
the inventory was written stops the runbook before any step (HostKeyMismatch, exit 3).
An unreachable host is data (`unreachable`), not an error: failover expects one.
"""

import hashlib
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from policies.errors import ConfigError, DrError, HostError, HostKeyMismatch
from policies.sla import Tier, load_policy
from recovery.adapters.app_config import AppHosts
from recovery.adapters.clock import SystemClock
from recovery.adapters.dns_resolver import DnsResolver
from recovery.adapters.dynamo_lock import DynamoLock
from recovery.adapters.fabric_host import FabricHostRunner
from recovery.adapters.isolation import isolator_for
from recovery.adapters.pg_host import PgHost
from recovery.adapters.postgres import connect
from recovery.adapters.route53_dns import Route53Dns
from recovery.adapters.s3_store import S3ObjectStore
from recovery.adapters.secrets import optional_secret
from recovery.adapters.sns_notifier import SnsNotifier
from recovery.inventory import HostNode, Inventory, inventory_tier
from recovery.ports import Clock, Dns, Isolator, Lock, Notifier, ObjectStore, Resolver
from recovery.runbooks.app_hosts import app_hosts_steps
from recovery.runbooks.decisions import Truth, dns_truth
from recovery.runbooks.engine import Step, wait_until

log = logging.getLogger(__name__)

DNS_ANSWER_SECONDS = 60  # beyond the TTL, for a changed record to reach the name's servers
DNS_POLL_SECONDS = 0.02  # one fresh query (a UDP round trip) per poll: a 0.1 s poll cost ~50 ms of RTO


@dataclass
class Site:
    inventory: Inventory
    tier: Tier
    hosts: dict[str, PgHost]
    unreachable: dict[str, str]
    dns: Dns
    resolver: Callable[[], Resolver]  # a new one per question: a fresh DNS query, no answer kept
    lock: Lock
    notifier: Notifier
    store: ObjectStore
    clock: Clock
    db_password: str | None = None
    secrets: list[str] = field(default_factory=list)
    isolator: Isolator | None = None
    apps: AppHosts | None = None

    def host(self, name: str) -> PgHost:
        if name not in self.hosts:
            raise ConfigError(f"no database node named '{name}' (expected one of: {', '.join(self.hosts)})")
        return self.hosts[name]

    def node(self, name: str) -> HostNode:
        return self.host(name).node

    def other(self, name: str) -> str:
        return next(n for n in self.hosts if n != name)

    def health_check(self, name: str) -> str | None:
        checks = self.inventory.dns.health_checks
        return checks.primary if name == self.inventory.database.primary.name else checks.secondary

    def dns_truth(self, primary: str, secondary: str) -> Truth:
        """The failover records point PRIMARY at `primary` and SECONDARY at `secondary`, and the
        name answers `primary` through DNS, as a client asking afresh gets it."""
        records = dns_truth(self.dns.records(), self.node(primary).host, self.node(secondary).host)
        if not records.done:
            return records
        answer = self.name_answers(primary)
        return Truth(answer.done, f"{records.detail}; {answer.detail}")

    def name_answers(self, name: str) -> Truth:
        """The name resolves to node `name` through the data plane (a fresh query, no cache)."""
        want = self.node(name).host
        try:
            got = self.resolver().resolve()
        except HostError as err:
            return Truth(False, str(err))
        return Truth(got == want, f"DNS answers {got}" + ("" if got == want else f", not yet {want}"))

    def app_steps(self, primary: str) -> list[Step]:
        """Re-point the inventory's app hosts at `primary` (none when it lists none)."""
        return app_hosts_steps(self.apps, lambda: self.node(primary).host, self.node(primary).host)

    def point_dns(self, primary: str, secondary: str) -> str:
        """Re-point the records, then wait until DNS answers the new primary: the records alone
        (the control plane) do not yet send a client there."""
        self.dns.point_to((self.node(primary).host, self.health_check(primary)),
                          (self.node(secondary).host, self.health_check(secondary)))
        answered = wait_until(lambda: self.name_answers(primary), self.inventory.dns.ttl + DNS_ANSWER_SECONDS,
                              f"DNS answering {self.inventory.dns.record_name} with {primary}",
                              every=DNS_POLL_SECONDS)
        return f"{self.inventory.dns.record_name} PRIMARY -> {primary}, SECONDARY -> {secondary}; {answered}"

    def _through_dns(self, sql: str, run: str) -> tuple[str, bool]:
        address = self.resolver().resolve()
        if any(self.node(name).host == address for name in self.unreachable):
            raise HostError(f"{self.inventory.dns.record_name} points at {address}, which is unreachable")
        db = self.inventory.database
        port = next((h.node.pg_port for h in self.hosts.values() if h.node.host == address), 5432)
        with connect(address, port, user=db.user, password=self.db_password, dbname=db.name) as conn:
            row = conn.execute(sql, (marker_id(run), run)).fetchone()
        return address, row is not None

    def write_through_dns(self, run: str) -> str:
        """Insert the run's marker row through the name, as an application would (once per run)."""
        address, _ = self._through_dns(
            "INSERT INTO crmdr_probe (id, writer, note) VALUES (%s, 'crmdr-runbook', %s) "
            "ON CONFLICT (id) DO NOTHING RETURNING id", run)
        return f"write through {self.inventory.dns.record_name} ({address}) committed"

    def marker_written(self, run: str) -> Truth:
        """The run's marker row is readable through the name: validation already wrote it."""
        try:
            address, found = self._through_dns(
                "SELECT id FROM crmdr_probe WHERE id = %s AND note = %s", run)
        except DrError as err:
            return Truth(False, f"cannot read through the name ({err})")
        return Truth(found, f"marker row of this run {'present' if found else 'absent'} via {address}")

    def validate(self, name: str) -> list[str]:
        """CRM invariants and index checks on the node (recovery/backups/validation.py)."""
        from recovery.adapters.pg_validation import validate

        node, db = self.node(name), self.inventory.database
        return validate(lambda: connect(node.host, node.pg_port, user=db.user, password=self.db_password,
                                        dbname=db.name, timeout=10))

    def close(self) -> None:
        for host in self.hosts.values():
            host.close()
            host.runner.close()
        if self.apps is not None:
            self.apps.close()


def marker_id(run: str) -> int:
    """A run's marker row id: 60 bits of its hash, so a resumed validation writes the same row."""
    return int(hashlib.sha256(run.encode()).hexdigest()[:15], 16)


def open_apps(inventory: Inventory) -> AppHosts | None:
    """The app hosts, connected: a changed host key stops here (closing the app hosts; the caller closes
    what else it opened)."""
    if not inventory.app_hosts:
        return None
    apps = AppHosts(inventory.app_hosts, inventory.ssh)
    try:
        for name, why in apps.open().items():
            log.warning("app host %s is unreachable now: %s", name, why)
    except HostKeyMismatch:
        apps.close()
        raise
    return apps


def _open_all(runners: dict[str, FabricHostRunner]) -> dict[str, str]:
    """Open every SSH connection at once; name -> why it is unreachable. A changed host key closes all, raises.

    In parallel: the handshakes are on a failover's critical path, and a dead host costs its timeout once.
    """
    def attempt(runner: FabricHostRunner) -> DrError | None:
        try:
            runner.open()
        except (HostKeyMismatch, HostError) as err:
            return err
        return None

    with ThreadPoolExecutor(max_workers=max(1, len(runners)), thread_name_prefix="crmdr-ssh-open") as pool:
        outcomes = dict(zip(runners, pool.map(attempt, runners.values()), strict=True))
    mismatch = next((err for err in outcomes.values() if isinstance(err, HostKeyMismatch)), None)
    if mismatch is not None:
        for name, runner in runners.items():
            if outcomes[name] is None:
                runner.close()
        raise mismatch
    return {name: str(err) for name, err in outcomes.items() if err is not None}


def _open_hosts(inventory: Inventory, runners: dict[str, FabricHostRunner]) -> tuple[dict[str, str], AppHosts | None]:
    """Database and app hosts connect at the same time (each handshake is ~0.1 s on the failover's path);
    a changed host key anywhere closes every connection and raises."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="crmdr-app-open") as pool:
        apps = pool.submit(open_apps, inventory)
        try:
            unreachable = _open_all(runners)
        except HostKeyMismatch:
            if apps.exception() is None and (opened := apps.result()) is not None:
                opened.close()
            raise
        try:
            return unreachable, apps.result()
        except HostKeyMismatch:
            for runner in runners.values():
                runner.close()
            raise


def open_site(inventory: Inventory, policy_path: Path | None = None) -> Site:
    """Resolve secrets, connect to every host (pinned keys), build the cloud adapters meanwhile."""
    db = inventory.database
    tier = inventory_tier(inventory, load_policy(policy_path))  # bad input before any connection
    if db.engine != "hosts":
        raise ConfigError("this runbook drives self-managed hosts (database.engine: hosts); for "
                          "engine rds only `crmdr failover` is implemented")
    password = optional_secret(db.password, inventory)
    repl = optional_secret(db.replication_password, inventory)
    secrets = [s for s in (password, repl) if s]
    runners: dict[str, tuple[HostNode, FabricHostRunner]] = {}
    for node in db.nodes():
        if not isinstance(node, HostNode):
            raise ConfigError(f"node {node.name} is not an SSH host (database.engine: hosts)")
        runners[node.name] = (node, FabricHostRunner(node, inventory.ssh, secrets=secrets))
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="crmdr-site-open") as pool:
        connecting = pool.submit(_open_hosts, inventory, {name: runner for name, (_, runner) in runners.items()})
        try:
            dns, lock, notifier = Route53Dns(inventory), DynamoLock(inventory), SnsNotifier(inventory)
            store, isolator = S3ObjectStore(inventory), isolator_for(inventory)
        except BaseException:
            if connecting.exception() is None and (opened := connecting.result()[1]) is not None:
                opened.close()
            for _, runner in runners.values():
                runner.close()
            raise
        unreachable, apps = connecting.result()
    hosts: dict[str, PgHost] = {}
    for node, runner in runners.values():
        hosts[node.name] = PgHost(node, runner, user=db.user, password=password,
                                  replication_user=db.replication_user, replication_password=repl,
                                  dbname=db.name)
        hosts[node.name].down = unreachable.get(node.name)
    return Site(inventory=inventory, tier=tier, hosts=hosts, unreachable=unreachable, apps=apps,
                dns=dns, resolver=lambda: DnsResolver(inventory, timeout=2.0), lock=lock, notifier=notifier,
                store=store, clock=SystemClock(), db_password=password, secrets=secrets, isolator=isolator)
