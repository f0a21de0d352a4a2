"""The lab DNS server answers the database name as Route 53's data plane would, through real DNS queries.

dnspython (an independent DNS implementation) asks the server the lab started; the answers
must carry the records' address and TTL, follow a failover, and survive the AWS stand-in's death.
"""

import json
import os
import signal
import time

import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import pytest

from drills.lab import dns_server
from drills.lab.lab import read_state
from drills.lab.settings import LabPaths
from drills.lab.system import pid_alive
from tests.conftest import crmdr
from tests.lab.conftest import Lab

pytestmark = pytest.mark.lab


def ask(lab: Lab, name: str, rtype: str = "A", *, tcp: bool = False) -> dns.message.Message:
    query = dns.message.make_query(name, rtype)
    where, port = str(lab.settings.aws_ip), lab.settings.dns_port
    return (dns.query.tcp if tcp else dns.query.udp)(query, where, port=port, timeout=2)


def address_of(reply: dns.message.Message) -> tuple[str, int]:
    (rrset,) = reply.answer
    assert rrset.rdtype == dns.rdatatype.A
    return rrset[0].address, rrset.ttl


def wait_for_answer(lab: Lab, expected: str, within: float = 10) -> str:
    deadline, seen = time.monotonic() + within, ""
    while time.monotonic() < deadline:
        seen = address_of(ask(lab, lab.inventory.dns.record_name))[0]
        if seen == expected:
            return seen
        time.sleep(0.1)
    return seen


@pytest.mark.parametrize("tcp", [False, True], ids=["udp", "tcp"])
def test_the_name_resolves_to_the_primary_with_the_records_ttl(shared_lab: Lab, tcp: bool) -> None:
    reply = ask(shared_lab, shared_lab.inventory.dns.record_name, tcp=tcp)
    assert reply.rcode() == dns.rcode.NOERROR and reply.flags & dns.flags.AA
    assert address_of(reply) == (str(shared_lab.settings.primary_ip), shared_lab.inventory.dns.ttl)
    assert shared_lab.inventory.dns.resolver == f"{shared_lab.settings.aws_ip}:{shared_lab.settings.dns_port}"


def test_unknown_names_and_other_zones_are_answered_as_an_authoritative_server_does(shared_lab: Lab) -> None:
    missing = ask(shared_lab, f"nosuch.{shared_lab.inventory.dns.zone}")
    assert missing.rcode() == dns.rcode.NXDOMAIN and missing.authority[0].rdtype == dns.rdatatype.SOA
    assert ask(shared_lab, shared_lab.inventory.dns.record_name, "AAAA").rcode() == dns.rcode.NOERROR
    assert not ask(shared_lab, shared_lab.inventory.dns.record_name, "AAAA").answer
    assert ask(shared_lab, "example.com.").rcode() == dns.rcode.REFUSED


def test_lab_status_shows_the_dns_server_and_its_answer(shared_lab: Lab) -> None:
    result = crmdr("lab", "status", "--dir", str(shared_lab.dir), "--json")
    part = next(p for p in json.loads(result.stdout)["parts"] if p["part"] == "lab DNS server")
    assert part["healthy"] is True and part["address"] == shared_lab.inventory.dns.resolver
    assert part["answer"] == (f"{shared_lab.inventory.dns.record_name} A {shared_lab.settings.primary_ip} "
                              f"(TTL {shared_lab.inventory.dns.ttl}s)")


def test_the_answer_follows_a_failover_and_outlives_the_aws_stand_in(fresh_lab: Lab) -> None:
    standby = str(fresh_lab.settings.standby_ip)
    # GIVEN a failover (the runbook's DNS step rewrites the failover pair through the Route 53 API)
    done = crmdr("failover", "--yes", "--accept-data-loss", "--inventory", str(fresh_lab.inventory_path),
                 "--journal-dir", str(fresh_lab.dir / "runs"))
    assert done.returncode == 0, done.stderr
    # THEN DNS answers the standby, with the records' TTL
    assert wait_for_answer(fresh_lab, standby) == standby
    assert address_of(ask(fresh_lab, fresh_lab.inventory.dns.record_name))[1] == fresh_lab.inventory.dns.ttl
    # WHEN the AWS stand-in dies (the control plane), DNS (the data plane) keeps answering the same
    state = read_state(LabPaths(fresh_lab.dir))
    assert state is not None and state.moto_pid and state.dns_pid
    os.kill(state.moto_pid, signal.SIGKILL)
    deadline, part = time.monotonic() + 15, {}
    while "records" not in part and time.monotonic() < deadline:  # the server has tried the dead API
        time.sleep(0.2)
        status = json.loads(crmdr("lab", "status", "--dir", str(fresh_lab.dir), "--json").stdout)
        part = next(p for p in status["parts"] if p["part"] == "lab DNS server")
    assert part["healthy"] is True and "Route 53 API has been unreachable since" in part["records"], part
    assert status["healthy"] is False  # the moto server is down, and said so
    assert not pid_alive(state.moto_pid) and pid_alive(state.dns_pid)
    assert address_of(ask(fresh_lab, fresh_lab.inventory.dns.record_name, tcp=True))[0] == standby
    assert address_of(ask(fresh_lab, fresh_lab.inventory.dns.record_name))[0] == standby
    # AND a DNS server restarted while moto is still down answers from its cache file
    dns_server.stop(state.dns_pid)
    restarted = dns_server.start(LabPaths(fresh_lab.dir), fresh_lab.settings, None)
    try:
        assert address_of(ask(fresh_lab, fresh_lab.inventory.dns.record_name))[0] == standby
    finally:
        dns_server.stop(restarted)
