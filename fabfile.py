"""Fabric tasks for SREs who prefer `fab`: the same code as `crmdr`, host keys pinned.

Hosts are named as in the inventory (`$CRMDR_INVENTORY`, else the lab's):

    fab -H primary,standby status
    fab -H primary fence          # pg_ctl stop -m immediate + standby.signal (asks first)
    fab -H standby promote
    fab -H primary rewind --upstream standby
    fab -H primary isolate        # cut off by the inventory's database.isolation (asks first)
    fab -H primary release        # lift that isolation

Fabric's own connection to `-H NAME` is never opened: each task builds a pinned-key runner
for the inventory node of that name (RejectPolicy, the inventory's known_hosts line).
Errors end the task with one sentence and crmdr's exit codes (2 bad input, 3 refused).
"""

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from fabric import Connection, task
from invoke.exceptions import Exit

from policies.errors import ConfigError, DrError, Refused
from recovery.adapters.fabric_host import FabricHostRunner
from recovery.adapters.isolation import isolator_for
from recovery.adapters.pg_host import PgHost
from recovery.adapters.secrets import optional_secret
from recovery.inventory import HostNode, Inventory, load_inventory
from recovery.ports import Isolator
from recovery.runbooks.failover import guard_limitation


def _inventory() -> Inventory:
    import os

    return load_inventory(Path(os.environ.get("CRMDR_INVENTORY", ".crmdr/lab/inventory.json")))


def _node(inventory: Inventory, wanted: str) -> HostNode:
    db = inventory.database
    try:
        node = db.node(wanted)
    except KeyError as err:
        raise ConfigError(str(err.args[0])) from None
    if not isinstance(node, HostNode):
        raise ConfigError(f"node {wanted} is not an SSH host (engine {db.engine})")
    return node


def _host(c: Connection, name: str | None = None) -> PgHost:
    inventory = _inventory()
    db = inventory.database
    node = _node(inventory, name or c.host)
    password = optional_secret(db.password, inventory)
    repl = optional_secret(db.replication_password, inventory)
    runner = FabricHostRunner(node, inventory.ssh, secrets=[s for s in (password, repl) if s])
    runner.open()
    return PgHost(node, runner, user=db.user, password=password, replication_user=db.replication_user,
                  replication_password=repl, dbname=db.name)


def _confirm(what: str, yes: bool) -> None:
    if yes:
        return
    if not sys.stdin.isatty():
        raise Refused(f"{what}: no terminal to confirm on; pass --yes")
    if input(f"{what}? [y/N] ").strip().lower() != "y":
        raise Refused(f"{what}: not confirmed")


F = TypeVar("F", bound=Callable[..., Any])


def _one_sentence(body: F) -> F:
    """A DrError becomes its sentence on stderr and its exit code, as with `crmdr`."""

    @functools.wraps(body)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return body(*args, **kwargs)
        except DrError as err:
            raise Exit(f"fab {body.__name__}: {err}", code=err.exit_code) from None

    return wrapper  # type: ignore[return-value]


@task
@_one_sentence
def status(c: Connection) -> None:
    """Role, running state, timeline and upstream of the host."""
    host = _host(c)
    live = host.identity()
    control = host.controldata()
    role = "down" if not live.running else ("standby" if live.in_recovery else "primary")
    timeline = control.get("Latest checkpoint's TimeLineID")
    print(f"{host.name}: {role}; cluster_name={live.name}; timeline={timeline}; "
          f"upstream={host.upstream() or '-'}; standby.signal={'yes' if host.fence_state()[1] else 'no'}")


@task
@_one_sentence
def fence(c: Connection, yes: bool = False) -> None:
    """Stop PostgreSQL immediately and leave standby.signal: it can only come back read-only."""
    host = _host(c)
    reason = guard_limitation("fence", host.name, host.identity(), want_primary=None)
    if reason:
        raise Refused(reason)
    _confirm(f"fence {host.name}", yes)
    print(host.stop("immediate"))
    host.set_standby_signal(True)
    print(f"{host.name}: fenced (standby.signal written)")


@task
@_one_sentence
def promote(c: Connection, yes: bool = False) -> None:
    """Promote a standby (refused on anything but a running standby)."""
    host = _host(c)
    reason = guard_limitation("promote", host.name, host.identity(), want_primary=False)
    if reason or host.in_recovery() is not True:
        raise Refused(reason or f"{host.name} is not a running standby")
    _confirm(f"promote {host.name}", yes)
    print(host.promote())


@task
@_one_sentence
def rewind(c: Connection, upstream: str, yes: bool = False) -> None:
    """Rebuild the host as a standby of `upstream` with pg_rewind (refused on a running primary)."""
    host, source = _host(c), _host(c, upstream)
    reason = guard_limitation("rewind", host.name, host.identity(), want_primary=False)
    if reason:
        raise Refused(reason)
    _confirm(f"rewind {host.name} from {source.name}", yes)
    host.stop("fast")
    host.write_passfile()
    host.set_standby_signal(False)
    print(host.rewind(source.node))
    host.write_host_conf(source.node)
    host.set_standby_signal(True)
    print(host.start())


def _isolator(c: Connection) -> tuple[Isolator, HostNode]:
    """No SSH here: isolation is for a host that cannot be reached."""
    inventory = _inventory()
    node = _node(inventory, c.host)
    isolator = isolator_for(inventory)
    if isolator is None:
        raise ConfigError("the inventory names no database.isolation method")
    return isolator, node


@task
@_one_sentence
def isolate(c: Connection, yes: bool = False) -> None:
    """Fence an unreachable host by isolation (database.isolation: security group swap or local firewall)."""
    isolator, node = _isolator(c)
    _confirm(f"isolate {node.name}", yes)
    print(isolator.isolate(node))


@task
@_one_sentence
def release(c: Connection, yes: bool = False) -> None:
    """Lift an isolation (fence the host properly first if it may still run as a primary)."""
    isolator, node = _isolator(c)
    _confirm(f"release {node.name}", yes)
    print(isolator.release(node))
