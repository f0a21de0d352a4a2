"""`crmdr lab cut NODE [--from NODE]` / `heal [NODE]`: partitions of the lab's hosts, journalled.

On a namespaced lab (drills/lab/network.py) a cut is an iptables chain *inside the target's
namespace*, so it holds for every peer, replication included: `CRMDR-<node>` drops every packet
to and from the host (its lo spared), `CRMDR-<node>-from-<peer>` drops what arrives from one
peer (one direction: the target's packets still reach the peer, the peer's never arrive). A
service sharing a host's address (dns) is cut by its ports. The rules die with the namespace.
On a loopback lab only a both-ways cut of a host exists (an address rule in the root namespace,
recovery.adapters.local_firewall), and it does not stop replication.

Every cut and heal is a line in DIR/faults.jsonl; `active` reads the rules themselves, so what
`lab status` shows is what holds, not what was asked.
"""

import json
import logging
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from drills.lab import network
from drills.lab.settings import LabPaths
from policies.errors import ConfigError, HostError
from recovery.adapters import local_firewall

log = logging.getLogger(__name__)

JOURNAL = "faults.jsonl"
CHAIN = "CRMDR-"
FROM = "-from-"


def _registry(paths: LabPaths) -> dict[str, Any]:
    found = network.registry(paths)
    if found is None:
        raise ConfigError(f"{paths.root}: no lab here (no {network.REGISTRY}); "
                          f"expected `crmdr lab up --dir {paths.root}` first")
    return found


def _target(reg: dict[str, Any], node: str) -> tuple[str, list[int]]:
    """(host, ports) of a node name: a host (all ports) or a service on a host."""
    if node in reg["hosts"]:
        return node, []
    if node in reg["services"]:
        return str(reg["services"][node]["host"]), [int(p) for p in reg["services"][node]["ports"]]
    known = ", ".join([*reg["hosts"], *reg["services"]])
    raise ConfigError(f"lab cut: unknown node {node!r}; expected one of {known}")


def _source_ip(reg: dict[str, Any], peer: str) -> str:
    if peer == network.OPERATOR and reg["operator"]:
        return str(reg["operator"])
    if peer in reg["hosts"]:
        return str(reg["hosts"][peer]["ip"])
    known = ", ".join([*reg["hosts"], network.OPERATOR])
    raise ConfigError(f"lab cut --from: unknown node {peer!r}; expected one of {known}")


def _iptables(ns: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(["ip", "netns", "exec", ns, "iptables", "-w", "10", *args],
                          capture_output=True, text=True, timeout=30)
    if check and done.returncode != 0:
        raise HostError(f"iptables {' '.join(args)} in {ns} failed: {done.stderr.strip()}")
    return done


def _rules(node: str, ports: list[int], source: str | None) -> list[list[str]]:
    match = ["-s", source] if source else []
    if not ports:
        return [[*match, "-j", "DROP"]]
    return [[*match, "-p", proto, "--dport", str(port), "-j", "DROP"] for port in ports for proto in ("tcp", "udp")]


def _hooks(ports: list[int], source: str | None) -> list[list[str]]:
    """Both ways: INPUT and OUTPUT off lo; one way (or a service): what arrives."""
    if source or ports:
        return [["INPUT", "!", "-i", "lo"]]
    return [["INPUT", "!", "-i", "lo"], ["OUTPUT", "!", "-o", "lo"]]


def cut(root: Path, node: str, source: str | None = None) -> dict[str, Any]:
    """Cut `node` off (from everyone, or only what arrives from `source`); idempotent, journalled."""
    paths = LabPaths(root)
    reg = _registry(paths)
    host, ports = _target(reg, node)
    if source == node:
        raise ConfigError(f"lab cut: --from {source} names the node being cut; expected another node")
    if reg["mode"] != "netns":
        return _record(paths, "cut", node, source, _cut_loopback(reg, node, host, ports, source))
    source_ip = _source_ip(reg, source) if source else None
    ns = str(reg["hosts"][host]["namespace"])
    name = f"{CHAIN}{node}{FROM}{source}" if source else f"{CHAIN}{node}"
    if _iptables(ns, "-n", "-L", name, check=False).returncode != 0:
        _iptables(ns, "-N", name)
        for rule in _rules(node, ports, source_ip):
            _iptables(ns, "-A", name, *rule)
    for hook in _hooks(ports, source_ip):
        if _iptables(ns, "-C", *hook, "-j", name, check=False).returncode != 0:
            _iptables(ns, "-I", *hook, "-j", name)
    what = f"port {'/'.join(map(str, ports))} of " if ports else ""
    direction = (f"packets from {source} ({source_ip}) to" if source
                 else "every packet to" if ports else "every packet to and from")
    how = f"iptables DROP in namespace {ns}: {direction} {what}{node} ({reg['hosts'][host]['ip']})"
    return _record(paths, "cut", node, source, how)


def _cut_loopback(reg: dict[str, Any], node: str, host: str, ports: list[int], source: str | None) -> str:
    if source or ports:
        raise ConfigError(f"lab cut {node}{' --from ' + source if source else ''}: one-way and per-service cuts need "
                          "the namespaced lab (root, network auto or netns); this lab runs on loopback")
    address = str(reg["hosts"][host]["ip"])
    local_firewall.cut(address)
    return (f"iptables DROP in the root namespace of every packet to and from {address} "
            "(loopback lab: replication, which leaves from 127.0.0.1, is not cut)")


def active(root: Path) -> list[dict[str, Any]]:
    """The cuts that hold now, read from the rules."""
    paths = LabPaths(root)
    reg = network.registry(paths)
    if reg is None:
        return []
    found: list[dict[str, Any]] = []
    if reg["mode"] != "netns":
        try:
            return [{"node": node, "from": None} for node, host in reg["hosts"].items()
                    if local_firewall.is_cut(str(host["ip"]))]
        except ConfigError:  # not root: nothing can have been cut
            return []
    for host in reg["hosts"].values():
        listed = _iptables(str(host["namespace"]), "-S", check=False).stdout.splitlines()
        for line in (line for line in listed if line.startswith(f"-N {CHAIN}")):
            node, _, source = line.split()[1].removeprefix(CHAIN).partition(FROM)
            found.append({"node": node, "from": source or None, "namespace": host["namespace"]})
    return found


def heal(root: Path, node: str | None = None) -> list[dict[str, Any]]:
    """Heal every cut of `node` (as target or as source), or every cut of the lab; journalled."""
    paths = LabPaths(root)
    reg = _registry(paths)
    if node is not None and node not in reg["hosts"] and node not in reg["services"] and node != network.OPERATOR:
        _target(reg, node)  # raises, naming the known nodes
    healed = []
    for held in active(root):
        if node is not None and node not in (held["node"], held["from"]):
            continue
        if reg["mode"] == "netns":
            _drop_chain(str(held["namespace"]), held["node"], held["from"])
        else:
            local_firewall.heal(str(reg["hosts"][held["node"]]["ip"]))
        healed.append(_record(paths, "heal", held["node"], held["from"], "rules removed"))
    return healed


def _drop_chain(ns: str, node: str, source: str | None) -> None:
    name = f"{CHAIN}{node}{FROM}{source}" if source else f"{CHAIN}{node}"
    for line in _iptables(ns, "-S", check=False).stdout.splitlines():
        if line.startswith("-A ") and line.endswith(f"-j {name}"):
            _iptables(ns, "-D", *line.split()[1:])
    _iptables(ns, "-F", name)
    _iptables(ns, "-X", name)


def _record(paths: LabPaths, action: str, node: str, source: str | None, how: str) -> dict[str, Any]:
    entry = {"at": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
             "action": action, "node": node, "from": source, "how": how}
    with (paths.root / JOURNAL).open("a") as journal:
        journal.write(json.dumps(entry) + "\n")
    log.info("lab %s: %s%s", action, node, f" from {source}" if source else "")
    return entry


def journal(root: Path) -> list[dict[str, Any]]:
    file = LabPaths(root).root / JOURNAL
    if not file.exists():
        return []
    return [json.loads(line) for line in file.read_text().splitlines() if line.strip()]
