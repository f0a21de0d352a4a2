"""Lab hosts in network namespaces (issue 18): a cut holds for every peer, one way or both, and
`lab down` leaves no namespace, link, route or rule behind."""

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from drills.lab import network
from drills.lab.system import port_open
from recovery.adapters.postgres import connect
from tests.conftest import crmdr
from tests.lab.conftest import Lab, needs_netns, start_lab, stop_lab

pytestmark = [pytest.mark.lab, pytest.mark.slow, needs_netns]


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    """Cuts are healed by each test: one lab serves them all."""
    started = start_lab(6, rows=20)
    yield started
    stop_lab(started.dir)


def lab_cmd(lab: Lab, *args: str) -> dict[str, Any]:
    done = crmdr("lab", *args, "--dir", str(lab.dir), "--json")
    assert done.returncode in (0, 1), done.stderr
    data: dict[str, Any] = json.loads(done.stdout)
    return data


def until(what: str, condition: Any, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"not within {seconds:g}s: {what}"
        time.sleep(0.2)


def connects_from(namespace: str | None, address: str, port: int) -> bool:
    """A TCP connect from inside a host's namespace (None: the root namespace, where crmdr runs)."""
    code = f"import socket; socket.create_connection(({address!r}, {port}), timeout=1.5)"
    prefix = ["ip", "netns", "exec", namespace] if namespace else []
    return subprocess.run([*prefix, "python3", "-c", code], capture_output=True).returncode == 0


def marker_on_standby(lab: Lab, marker: int) -> bool:
    db = lab.inventory.database
    with connect(str(lab.settings.standby_ip), lab.settings.pg_port, user=db.user, password=lab.password,
                 dbname=db.name) as conn:
        return conn.execute("SELECT 1 FROM crmdr_probe WHERE id = %s", (marker,)).fetchone() is not None


def write_marker(lab: Lab, marker: int) -> None:
    db = lab.inventory.database
    with connect(str(lab.settings.primary_ip), lab.settings.pg_port, user=db.user, password=lab.password,
                 dbname=db.name) as conn:
        conn.execute("INSERT INTO crmdr_probe (id, writer) VALUES (%s, 'netns')", (marker,))


def test_every_host_runs_in_a_namespace_of_its_own_on_its_documented_address(lab: Lab) -> None:
    status = lab_cmd(lab, "status")
    assert status["network"]["mode"] == "netns" and status["network"]["cannot"] == []
    hosts = status["network"]["hosts"]
    s = lab.settings
    assert {node: h["ip"] for node, h in hosts.items()} == {
        "aws": str(s.aws_ip), "primary": str(s.primary_ip), "standby": str(s.standby_ip), "status": str(s.status_ip),
        "intake": str(s.intake_ip)}
    assert len({h["namespace"] for h in hosts.values()}) == len(hosts)
    by_address = {h["ip"]: h["namespace"] for h in hosts.values()}
    checked = 0
    for part in status["parts"]:
        if part.get("pid"):
            owner = subprocess.run(["ip", "netns", "identify", str(part["pid"])], capture_output=True, text=True)
            assert owner.stdout.strip() == by_address[part["address"].rsplit(":", 1)[0]], part
            checked += 1
    assert checked >= 8, "moto, DNS, status page, intake, 2 PostgreSQL, 2 sshd"


def test_cut_standby_stops_replication_and_status_shows_it_then_heal_restores(lab: Lab) -> None:
    cut = lab_cmd(lab, "cut", "standby")
    try:
        assert cut["node"] == "standby" and cut["from"] is None
        assert [(c["node"], c["from"]) for c in cut["cuts"]] == [("standby", None)]
        write_marker(lab, 18_001)
        # THEN the standby's WAL receiver loses the primary (seen from the standby's own host)
        until("the WAL receiver lost the primary",
              lambda: lab_cmd(lab, "status")["replication"]["receiver"]["status"] != "streaming")
        status = lab_cmd(lab, "status")
        assert status["healthy"] is False and status["replication"].get("state") != "streaming"
        assert [(c["node"], c["from"]) for c in status["cuts"]] == [("standby", None)]
        assert not connects_from(None, str(lab.settings.standby_ip), lab.settings.pg_port)
    finally:
        healed = lab_cmd(lab, "heal")
    assert [(h["node"], h["from"]) for h in healed["healed"]] == [("standby", None)] and healed["cuts"] == []
    until("replication streams again", lambda: lab_cmd(lab, "status")["replication"].get("state") == "streaming")
    until("the write made during the cut reaches the standby", lambda: marker_on_standby(lab, 18_001))
    journal = [json.loads(line) for line in (lab.dir / "faults.jsonl").read_text().splitlines()]
    assert [(e["action"], e["node"]) for e in journal[-2:]] == [("cut", "standby"), ("heal", "standby")]
    assert all(e["at"].endswith("Z") and "T" in e["at"] for e in journal)


def test_one_way_cut_drops_only_what_comes_from_the_named_peer(lab: Lab) -> None:
    s, ns = lab.settings, network.namespace(lab.settings, "primary")
    lab_cmd(lab, "cut", "standby", "--from", "primary")
    try:
        assert not connects_from(ns, str(s.standby_ip), s.pg_port), "the primary still reaches the standby"
        assert connects_from(None, str(s.standby_ip), s.pg_port), "the operator was cut too"
        assert connects_from(network.namespace(s, "aws"), str(s.standby_ip), s.pg_port)
        assert [(c["node"], c["from"]) for c in lab_cmd(lab, "status")["cuts"]] == [("standby", "primary")]
    finally:
        lab_cmd(lab, "heal", "primary")  # as the source: heals it too
    assert connects_from(ns, str(s.standby_ip), s.pg_port)
    assert lab_cmd(lab, "status")["cuts"] == []


def test_dns_is_cut_by_its_port_and_the_aws_stand_in_stays_reachable(lab: Lab) -> None:
    s = lab.settings
    lab_cmd(lab, "cut", "dns")
    try:
        assert not connects_from(None, str(s.aws_ip), s.dns_port)
        assert connects_from(None, str(s.aws_ip), s.aws_port)
    finally:
        lab_cmd(lab, "heal", "dns")
    assert connects_from(None, str(s.aws_ip), s.dns_port)


def test_bad_node_is_exit_2_naming_the_known_ones(lab: Lab) -> None:
    done = crmdr("lab", "cut", "nosuch", "--dir", str(lab.dir))
    assert done.returncode == 2 and "nosuch" in done.stderr and "standby" in done.stderr
    assert "Traceback" not in done.stderr
    again = crmdr("lab", "cut", "standby", "--from", "standby", "--dir", str(lab.dir))
    assert again.returncode == 2 and "--from standby" in again.stderr, again.stderr
    assert lab_cmd(lab, "status")["cuts"] == []


def test_one_way_cut_on_a_loopback_lab_is_refused_changing_nothing(tmp_path: Path) -> None:
    """A loopback lab's registry (no processes needed): --from cannot be honoured there."""
    (tmp_path / network.REGISTRY).write_text(json.dumps({
        "mode": "loopback", "operator": None, "bridge": None, "services": {},
        "hosts": {"primary": {"ip": "127.0.250.1", "namespace": None},
                  "standby": {"ip": "127.0.250.2", "namespace": None}}}))
    done = crmdr("lab", "cut", "standby", "--from", "primary", "--dir", str(tmp_path))
    assert done.returncode == 2 and "namespaced lab" in done.stderr, done.stderr
    assert not (tmp_path / "faults.jsonl").exists()
    assert "127.0.250.2" not in subprocess.run(["iptables", "-S"], capture_output=True, text=True).stdout


def test_down_removes_every_namespace_link_route_and_rule() -> None:
    started = start_lab(7, rows=10)
    settings = started.settings
    try:
        lab_cmd(started, "cut", "primary")
        lab_cmd(started, "cut", "standby", "--from", "aws")
        down = crmdr("lab", "down", "--dir", str(started.dir))
        assert down.returncode == 0, down.stderr
    finally:
        stop_lab(started.dir)
    tag = f"crmdr-{str(settings.aws_ip).split('.')[2]}-{str(settings.aws_ip).split('.')[3]}-"
    assert tag not in subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    links = {line.split(":")[1].strip().split("@")[0]
             for line in subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout.splitlines()}
    hosts = network.lab_hosts(settings).values()
    assert network.bridge(settings) not in links
    assert not {"cr" + "x".join(ip.split(".")[1:]) for ip in hosts} & links, "a veth pair is left"
    routes = subprocess.run(["ip", "route", "show", "table", "local"], capture_output=True, text=True).stdout
    assert not [ip for ip in hosts if f"{ip} " in routes]
    rules = subprocess.run(["iptables", "-S"], capture_output=True, text=True).stdout
    assert not [ip for ip in hosts if ip in rules]
    assert not port_open(str(settings.primary_ip), settings.pg_port)
