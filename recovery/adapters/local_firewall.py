"""Drop every packet to and from one address with iptables on the machine running crmdr.

This isolates a host from the clients on *this* machine only (the lab's case, where every
client, the standby and the write probe run here). It does not stop a host talking to
clients elsewhere; in a real network isolate at the network (e.g. an EC2 security group).

Each cut address has its own chain, `CRMDR-<address>`, hooked from OUTPUT and INPUT by
source and destination: healing one address never touches another's rules, and a lab
heals its cuts by healing its own addresses. Every call is idempotent.
"""

import ipaddress
import logging
import os
import shutil
import subprocess

from policies.errors import ConfigError, HostError

log = logging.getLogger(__name__)

PREFIX = "CRMDR-"
HOOKS = (("OUTPUT", "-d"), ("OUTPUT", "-s"), ("INPUT", "-d"), ("INPUT", "-s"))


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


def chain(address: str) -> str:
    return f"{PREFIX}{_address(address)}"


def _exists(name: str) -> bool:
    return _iptables("-n", "-L", name, check=False).returncode == 0


def cut(address: str) -> None:
    """Silent partition: packets vanish (DROP, not REJECT), so TCP connects time out."""
    name = chain(address)
    if not _exists(name):
        _iptables("-N", name)
    if _iptables("-C", name, "-j", "DROP", check=False).returncode != 0:
        _iptables("-A", name, "-j", "DROP")
    for table_chain, flag in HOOKS:
        rule = (table_chain, flag, _address(address), "-j", name)
        if _iptables("-C", *rule, check=False).returncode != 0:
            _iptables("-I", *rule)
    log.info("network cut: %s", address)


def is_cut(address: str) -> bool:
    """Every hook and the DROP rule in place: what "the isolation holds" means here."""
    name = chain(address)
    if not _exists(name) or _iptables("-C", name, "-j", "DROP", check=False).returncode != 0:
        return False
    return all(
        _iptables("-C", table_chain, flag, _address(address), "-j", name, check=False).returncode == 0
        for table_chain, flag in HOOKS
    )


def heal(address: str) -> None:
    name = chain(address)
    for table_chain, flag in HOOKS:
        rule = (table_chain, flag, _address(address), "-j", name)
        while _iptables("-C", *rule, check=False).returncode == 0:
            _iptables("-D", *rule)
    if _exists(name):
        _iptables("-F", name)
        _iptables("-X", name)
        log.info("network healed: %s", address)


def cut_addresses() -> list[str]:
    """Addresses with a chain of ours, whoever cut them."""
    listing = _iptables("-S").stdout.splitlines()
    return [line.split()[1][len(PREFIX):] for line in listing if line.startswith(f"-N {PREFIX}")]


def heal_all(within: str = "0.0.0.0/0") -> list[str]:
    """Heal every cut address inside `within` (a network); returns them."""
    network = ipaddress.IPv4Network(within)
    healed = [address for address in cut_addresses() if ipaddress.IPv4Address(address) in network]
    for address in healed:
        heal(address)
    return healed
