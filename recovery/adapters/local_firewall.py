"""Drop every packet to and from one address with iptables on the machine running crmdr.

This isolates a host from the clients on *this* machine only (the lab's case, where every
client, the standby and the write probe run here). It does not stop a host talking to
clients elsewhere; in a real network isolate at the network (e.g. an EC2 security group).

On a machine that bridges or routes hosts (the namespaced lab), FORWARD is hooked as well.
Each cut address has its own chain, `CRMDR-<address>`, hooked from OUTPUT and INPUT by
source and destination: healing one address never touches another's rules, and a lab
heals its cuts by healing its own addresses. An isolation (a fence) uses its own chain,
`CRMDR-ISO-<address>`, so healing a network fault never lifts a fence. Every call is idempotent.
"""

import ipaddress
import logging
import os
import shutil
import socket
import subprocess

from policies.errors import ConfigError, HostError
from recovery.inventory import HostNode

log = logging.getLogger(__name__)

PREFIX = "CRMDR-"
ISOLATION = "CRMDR-ISO-"
HOOKS = (("OUTPUT", "-d"), ("OUTPUT", "-s"), ("INPUT", "-d"), ("INPUT", "-s"), ("FORWARD", "-d"), ("FORWARD", "-s"))
"""FORWARD too: traffic this machine passes between hosts behind it (a bridge of network namespaces, with
br_netfilter's bridge-nf-call-iptables on) is cut as well, so a fence holds for them."""


def _iptables(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("iptables")
    if binary is None:
        raise ConfigError("iptables is not installed (apt-get install iptables); network faults need it")
    if os.geteuid() != 0:
        raise ConfigError("network faults need root (iptables); run as root")
    done = subprocess.run([binary, "-w", "10", *args], capture_output=True, text=True, timeout=30)
    if check and done.returncode != 0:
        raise HostError(f"iptables {' '.join(args)} failed: {done.stderr.strip()}")
    return done


def _address(address: str) -> str:
    try:
        return str(ipaddress.IPv4Address(address))
    except ValueError:
        raise ConfigError(f"{address!r}: expected an IPv4 address to cut off") from None


def chain(address: str, prefix: str = PREFIX) -> str:
    return f"{prefix}{_address(address)}"


def _exists(name: str) -> bool:
    return _iptables("-n", "-L", name, check=False).returncode == 0


def cut(address: str, prefix: str = PREFIX) -> None:
    """Silent partition: packets vanish (DROP, not REJECT), so TCP connects time out."""
    name = chain(address, prefix)
    if not _exists(name):
        _iptables("-N", name)
    if _iptables("-C", name, "-j", "DROP", check=False).returncode != 0:
        _iptables("-A", name, "-j", "DROP")
    for table_chain, flag in HOOKS:
        rule = (table_chain, flag, _address(address), "-j", name)
        if _iptables("-C", *rule, check=False).returncode != 0:
            _iptables("-I", *rule)
    log.info("network cut: %s", address)


def is_cut(address: str, prefix: str = PREFIX) -> bool:
    """Every hook and the DROP rule in place: what "the isolation holds" means here."""
    name = chain(address, prefix)
    if not _exists(name) or _iptables("-C", name, "-j", "DROP", check=False).returncode != 0:
        return False
    return all(
        _iptables("-C", table_chain, flag, _address(address), "-j", name, check=False).returncode == 0
        for table_chain, flag in HOOKS
    )


def heal(address: str, prefix: str = PREFIX) -> None:
    name = chain(address, prefix)
    for table_chain, flag in HOOKS:
        rule = (table_chain, flag, _address(address), "-j", name)
        while _iptables("-C", *rule, check=False).returncode == 0:
            _iptables("-D", *rule)
    if _exists(name):
        _iptables("-F", name)
        _iptables("-X", name)
        log.info("network healed: %s", address)


def cut_addresses(prefix: str = PREFIX) -> list[str]:
    """Addresses with a chain of ours of this kind, whoever cut them."""
    names = [line.split()[1] for line in _iptables("-S").stdout.splitlines() if line.startswith("-N ")]
    found = []
    for name in (name for name in names if name.startswith(prefix)):
        try:
            found.append(str(ipaddress.IPv4Address(name.removeprefix(prefix))))
        except ValueError:  # another kind of chain (CRMDR-ISO-... under CRMDR-)
            continue
    return found


def heal_all(within: str = "0.0.0.0/0", prefix: str = PREFIX) -> list[str]:
    """Heal every cut address inside `within` (a network); returns them."""
    network = ipaddress.IPv4Network(within)
    healed = [address for address in cut_addresses(prefix) if ipaddress.IPv4Address(address) in network]
    for address in healed:
        heal(address, prefix)
    return healed


def _resolve(node: HostNode) -> str:
    try:
        return socket.gethostbyname(node.host)
    except OSError as err:
        raise HostError(f"cannot resolve {node.name} ({node.host}) to isolate it: {err}") from None


class LocalFirewallIsolator:
    """Fence by isolation on this machine (inventory `database.isolation.method: local-firewall`)."""

    def isolate(self, node: HostNode) -> str:
        address = _resolve(node)
        cut(address, ISOLATION)
        return (f"iptables on {socket.gethostname()}: every packet to and from {address} dropped "
                f"(chain {chain(address, ISOLATION)}); clients elsewhere are not cut off")

    def is_isolated(self, node: HostNode) -> bool:
        return is_cut(_resolve(node), ISOLATION)

    def release(self, node: HostNode) -> str:
        address = _resolve(node)
        heal(address, ISOLATION)
        return f"iptables isolation of {address} lifted on {socket.gethostname()}"
