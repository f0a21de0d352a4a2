"""Failover drill scenarios: how the primary is disrupted, and how the disruption is undone.

- `crash`: PostgreSQL stopped with `-m immediate` through Fabric; the host stays reachable.
- `host-lost`: the whole host dies: PostgreSQL stopped immediately *and* its sshd stopped, so
  Fabric cannot reach it and the failover must fence it by isolation.
- `network-cut`: a silent partition (iptables DROP of every packet to and from the primary's
  address) while PostgreSQL keeps running as a primary behind it.

`host-lost` and `network-cut` act on this machine's processes and firewall: they need a lab
inventory (the lab directory holds the sshd and its state). Undoing a disruption (`restore`)
brings the host back but does not lift the failover's isolation: failback does that, after
fencing the returning old primary.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from drills.context import DrillContext
from drills.failover.measure import Disruption
from drills.lab import netfault, sshd
from drills.lab.lab import read_state
from drills.lab.settings import LabPaths
from policies.errors import ConfigError, DrError
from recovery.adapters.fabric_host import FabricHostRunner
from recovery.inventory import HostNode


@dataclass(frozen=True)
class Scenario:
    name: str
    what: str
    disrupt: Callable[[DrillContext], Disruption]
    restore: Callable[[DrillContext], str]


def _primary(context: DrillContext) -> HostNode:
    node = context.inventory.database.primary
    if not isinstance(node, HostNode):
        raise DrError(f"node {node.name} is not an SSH host: this failover drill scenario needs one")
    return node


def _lab(context: DrillContext) -> LabPaths:
    paths = LabPaths(context.inventory_path.parent)
    if context.inventory.environment != "lab" or read_state(paths) is None:
        raise ConfigError(f"{context.inventory_path}: scenario '{context.scenario}' acts on the lab's own "
                          "processes and firewall; it needs a lab inventory (crmdr lab up)")
    return paths


def _crash_timed(context: DrillContext, node: HostNode, then: Callable[[], None] = lambda: None) -> Disruption:
    """`pg_ctl stop -m immediate` (then `then`), timed from the command only: the SSH handshake before it
    is the drill's own set-up, not the outage (it was counted in the RTO, ~0.1 s)."""
    runner = FabricHostRunner(node, context.inventory.ssh, secrets=context.secrets)
    runner.open()
    try:
        def act() -> None:
            runner.run(f"{node.bin_dir}/pg_ctl stop -D {node.data_dir} -m immediate", timeout=30)
            then()

        return _timed(act)
    finally:
        runner.close()


def _timed(action: Callable[[], None]) -> Disruption:
    wall, start = datetime.now(UTC), time.monotonic()
    action()
    return Disruption(started_mono=start, started_wall=wall.timestamp(), effective_mono=time.monotonic())


def crash(context: DrillContext) -> Disruption:
    """`pg_ctl stop -m immediate` on the primary: a crash without a zombie postmaster."""
    return _crash_timed(context, _primary(context))


def host_lost(context: DrillContext) -> Disruption:
    node, paths = _primary(context), _lab(context)
    return _crash_timed(context, node, lambda: sshd.stop(paths, node.name))


def host_back(context: DrillContext) -> str:
    """The host boots again: its sshd starts (behind the failover's isolation, if any)."""
    node, paths = _primary(context), _lab(context)
    sshd.start(paths, node.name, node.host, node.ssh_port, wait=False)
    return f"sshd of {node.name} started again ({node.host}:{node.ssh_port}); PostgreSQL left stopped"


def network_cut(context: DrillContext) -> Disruption:
    node = _primary(context)
    _lab(context)
    return _timed(lambda: netfault.cut(node.host))


def network_heal(context: DrillContext) -> str:
    node = _primary(context)
    netfault.heal(node.host)
    return f"network cut of {node.host} healed"


SCENARIOS = {
    "crash": Scenario("crash", "the primary's PostgreSQL was crashed (stop -m immediate)", crash,
                      lambda context: "nothing to undo"),
    "host-lost": Scenario("host-lost", "the primary host was lost (PostgreSQL and sshd stopped)", host_lost,
                          host_back),
    "network-cut": Scenario("network-cut", "the primary was cut off the network (iptables DROP) while "
                            "PostgreSQL kept running", network_cut, network_heal),
}
