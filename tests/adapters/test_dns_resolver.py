"""The resolver adapter against a real DNS server (the lab's resolver class on an ephemeral UDP port).

It must resolve through DNS with the TTL served, keep an answer exactly that long, and turn every
DNS failure into a "DNS:" HostError; the zone keeper must keep answering when moto cannot be read.
"""

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from dnslib.server import DNSServer

from drills.lab.dns_server import Answer, LabZoneResolver, ZoneKeeper, ZoneView
from policies.errors import ConfigError, HostError
from recovery.adapters.dns_resolver import DnsResolver
from recovery.inventory import load_inventory
from tests.conftest import make_inventory

pytestmark = pytest.mark.adapters

NAME = "db.crm.example."


def view(address: str, ttl: int = 5) -> ZoneView:
    return ZoneView("crm.example.", (Answer(NAME, "A", ttl, (address,)),), "2026-12-02T07:00:00.000+00:00")


class Zone:
    def __init__(self) -> None:
        self.current: ZoneView | None = view("10.0.0.1")
        self.queries = 0

    def __call__(self) -> ZoneView | None:
        self.queries += 1
        return self.current


@pytest.fixture
def zone() -> Iterator[tuple[Zone, str]]:
    served = Zone()
    server = DNSServer(LabZoneResolver(served), address="127.0.0.1", port=0)
    server.start_thread()
    try:
        yield served, f"127.0.0.1:{server.server.server_address[1]}"
    finally:
        server.stop()


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_an_answer_is_kept_for_its_ttl_and_no_longer(zone: tuple[Zone, str]) -> None:
    served, where = zone
    clock = Clock()
    resolver = DnsResolver(make_inventory(**{"dns.resolver": where}), clock=clock)
    first = resolver.answer()
    assert (first.address, first.ttl) == ("10.0.0.1", 5)
    served.current = view("10.1.0.1")  # the failover moved the name
    clock.now += 4.9
    assert resolver.resolve() == "10.0.0.1" and served.queries == 1  # still cached, as a client's resolver does
    clock.now += 0.1
    assert resolver.resolve() == "10.1.0.1" and served.queries == 2


def test_dns_failures_are_host_errors_that_say_dns(zone: tuple[Zone, str]) -> None:
    served, where = zone
    served.current = None  # the server has never read its zone: SERVFAIL
    with pytest.raises(HostError, match=rf"^DNS: cannot resolve {NAME} through {where}"):
        DnsResolver(make_inventory(**{"dns.resolver": where})).resolve()
    served.current = ZoneView("crm.example.", (), "2026-12-02T07:00:00.000+00:00")
    with pytest.raises(HostError, match=rf"^DNS: {NAME} does not exist at {where}"):
        DnsResolver(make_inventory(**{"dns.resolver": where})).resolve()


def test_an_unreachable_resolver_fails_within_the_timeout() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:  # bound, never answers
        silent.bind(("127.0.0.1", 0))
        where = f"127.0.0.1:{silent.getsockname()[1]}"
        with pytest.raises(HostError, match=r"^DNS: cannot resolve"):
            DnsResolver(make_inventory(**{"dns.resolver": where}), timeout=0.3).resolve()


def test_a_malformed_resolver_is_a_config_error_naming_file_and_field(tmp_path: Path) -> None:
    (tmp_path / "inventory.json").write_text(make_inventory(**{"dns.resolver": "127.0.0.10:5353"}).to_json()
                                             .replace('"127.0.0.10:5353"', '"127.0.0.10"'))
    with pytest.raises(ConfigError, match=r"inventory\.json.*dns\.resolver"):
        load_inventory(tmp_path / "inventory.json")


def test_the_keeper_answers_from_the_last_records_when_moto_cannot_be_read(tmp_path: Path) -> None:
    reads: list[ZoneView | Exception] = [view("10.0.0.1"), ConnectionRefusedError("moto down")]

    def read(_: Path) -> ZoneView:
        got = reads.pop(0)
        if isinstance(got, Exception):
            raise got
        return got

    cache = tmp_path / "zone.json"
    keeper = ZoneKeeper(tmp_path / "inventory.json", cache, read=read)
    keeper.refresh()
    keeper.refresh()
    assert keeper.view is not None and keeper.view.answers == view("10.0.0.1").answers
    assert keeper.view.unreachable_since is not None
    # a restarted server, moto still down, answers from the cache file
    again = ZoneKeeper(tmp_path / "inventory.json", cache, read=lambda _: (_ for _ in ()).throw(OSError("down")))
    again.refresh()
    assert again.view is not None and again.view.answers == view("10.0.0.1").answers
