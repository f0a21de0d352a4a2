"""Network faults for lab drills and tests: cut a lab host off, silently, and heal it.

The lab's hosts are loopback addresses on this machine, so an iptables DROP of every packet
to and from one address is a true partition for every client of the lab (the standby's
replication, Fabric, the write probe, crmdr itself). See recovery.adapters.local_firewall
for the mechanism (a chain per cut address, idempotent calls, ConfigError without iptables
or root). `crmdr lab down` heals its lab's addresses.
"""

import ipaddress
from collections.abc import Iterator
from contextlib import contextmanager

from policies.errors import ConfigError
from recovery.adapters import local_firewall


def _loopback(address: str) -> str:
    try:
        parsed = ipaddress.IPv4Address(address)
    except ValueError:
        raise ConfigError(f"{address!r}: expected an IPv4 address of a lab host") from None
    if not parsed.is_loopback:
        raise ConfigError(f"{address}: lab network faults only cut loopback addresses (127.x.y.z)")
    return str(parsed)


def cut(address: str) -> None:
    """DROP every packet to and from `address`: TCP connects to it time out."""
    local_firewall.cut(_loopback(address))


def heal(address: str) -> None:
    local_firewall.heal(_loopback(address))


def is_cut(address: str) -> bool:
    return local_firewall.is_cut(_loopback(address))


def heal_all(within: str = "127.0.0.0/8") -> list[str]:
    """Heal every cut loopback address inside `within` (pass a lab's block to spare others)."""
    return local_firewall.heal_all(within)


@contextmanager
def cut_off(address: str) -> Iterator[None]:
    """Cut for the duration of the block; always healed, even when the block raises."""
    cut(address)
    try:
        yield
    finally:
        heal(address)
