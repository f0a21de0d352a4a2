"""`backup wal install`: continuous WAL archiving from the database hosts to the DR bucket.

Through Fabric, each host gets a copy of the inventory (no secrets in it) next to its data
directory and proves that its PostgreSQL OS user (the node's SSH user) can run the push
entry point; then `ALTER SYSTEM SET archive_command` and a reload over SQL, on the primary
and the standby (so a promoted standby keeps archiving). Finally the primary switches WAL
and the toolkit waits until that segment is in the bucket: installed means proven.
"""

import posixpath
import shlex
from base64 import b64encode
from collections.abc import Callable
from dataclasses import dataclass

from tenacity import Retrying, retry_if_result, stop_after_delay, wait_fixed

from policies.errors import CheckFailed, ConfigError, HostError
from recovery.adapters.fabric_host import FabricHostRunner
from recovery.adapters.pg_tools import set_archive_command
from recovery.adapters.postgres import connect, one_row
from recovery.adapters.secrets import optional_secret
from recovery.inventory import HostNode, Inventory
from recovery.ports import ObjectStore
from recovery.wal.segments import wal_key


def remote_inventory_path(node: HostNode) -> str:
    return posixpath.join(posixpath.dirname(node.data_dir.rstrip("/")), "crmdr-inventory.json")


def archive_command(python: str, inventory_file: str) -> str:
    return (f"{shlex.quote(python)} -m recovery.wal_push --inventory "
            f"{shlex.quote(inventory_file)} %p %f")


@dataclass(frozen=True)
class Installed:
    node: str
    archive_command: str
    proven_segment: str | None = None


def _prepare_host(inventory: Inventory, node: HostNode, python: str) -> str:
    """Copy the inventory to the host and check the entry point runs there; the command."""
    path = remote_inventory_path(node)
    payload = b64encode(inventory.to_json().encode()).decode()
    runner = FabricHostRunner(node, inventory.ssh)
    try:
        runner.run(f"printf %s {payload} | base64 -d > {shlex.quote(path)}.tmp && "
                   f"chmod 0644 {shlex.quote(path)}.tmp && mv {shlex.quote(path)}.tmp {shlex.quote(path)}",
                   timeout=30)
        check = runner.run(f"cd / && {shlex.quote(python)} -m recovery.wal_push --inventory "
                           f"{shlex.quote(path)} --check", timeout=60, check=False)
    finally:
        runner.close()
    if not check.ok:
        raise HostError(f"host {node.name}: {python} -m recovery.wal_push cannot run as {node.user} "
                        f"(exit {check.exit_code}: {(check.stderr.strip().splitlines() or [''])[-1]})")
    return archive_command(python, path)


def _configure(inventory: Inventory, node: HostNode, command: str) -> None:
    password = optional_secret(inventory.database.password, inventory)
    with connect(node.host, node.pg_port, user=inventory.database.user, password=password,
                 dbname=inventory.database.name) as conn:
        try:
            set_archive_command(conn, command)
        except ConfigError as err:
            raise ConfigError(f"host {node.name}: {err}") from None


def _prove(inventory: Inventory, node: HostNode, store: ObjectStore, timeout: float) -> str:
    """Commit, switch WAL on the primary and wait for that segment to reach the bucket.

    The commit (`txid_current()` takes a transaction id, so its commit is logged with a time)
    makes the archive provably reach this moment: PostgreSQL stops a recovery to a time only at
    a commit after it, so on a quiet database a restore `--to-time` just before now would
    otherwise run off the end of the WAL and fail.
    """
    password = optional_secret(inventory.database.password, inventory)
    with connect(node.host, node.pg_port, user=inventory.database.user, password=password,
                 dbname=inventory.database.name) as conn:
        conn.execute("SELECT pg_reload_conf()")
        conn.execute("SELECT txid_current()")
        row = conn.execute("SELECT pg_walfile_name(pg_switch_wal())").fetchone()
        row = one_row(row, "WAL switch")
        segment = str(row[0])
        retrying = Retrying(stop=stop_after_delay(timeout), wait=wait_fixed(0.5),
                            retry=retry_if_result(lambda found: not found), retry_error_callback=lambda _: False)
        if not retrying(lambda: store.head(wal_key(segment)) is not None):
            failed = conn.execute("SELECT last_failed_wal, failed_count FROM pg_stat_archiver").fetchone()
            raise CheckFailed(f"segment {segment} did not reach {wal_key(segment)} within {timeout:g}s "
                              f"(pg_stat_archiver: last failed {failed and failed[0]}, "
                              f"{failed and failed[1]} failures; see the PostgreSQL log)")
    return segment


def install(inventory: Inventory, store: ObjectStore, python: str, *, timeout: float = 60,
            report: Callable[[str], None] = lambda stage: None) -> list[Installed]:
    """Install on every host node (primary last, then proven there); `report` hears each stage."""
    nodes = [node for node in (inventory.database.standby, inventory.database.primary) if isinstance(node, HostNode)]
    if len(nodes) != 2:
        raise ConfigError("inventory database.engine is 'rds': RDS archives WAL itself")
    done = []
    for node in nodes:
        report(f"{node.name}: installing archive_command")
        command = _prepare_host(inventory, node, python)
        _configure(inventory, node, command)
        done.append(Installed(node.name, command))
    primary = nodes[-1]
    report(f"{primary.name}: waiting up to {timeout:g} s for a WAL segment to reach the bucket")
    segment = _prove(inventory, primary, store, timeout)
    done[-1] = Installed(primary.name, done[-1].archive_command, segment)
    return done
