"""The lab's hosts on the network: each in a network namespace of its own (as root), or loopback.

Namespaced (root): every lab host gets a namespace (`crmdr-<c>-<d>-<node>`, c.d = the last two
octets of the AWS stand-in's address, so parallel labs never share one), a veth pair whose
outer end joins the lab's bridge in the root namespace, and its documented 127.x address on the
inner end as a /32. Loopback addresses can cross a veth once `route_localnet=1` is set on each
device that carries them (found by experiment on this kernel, 6.x): inside a namespace `lo`
keeps only 127.0.0.1/32 and 127.0.0.0/8 goes out through the veth; in the root namespace a /32
route per lab host in table `local` (longest prefix beats lo's 127.0.0.0/8) sends the lab's
addresses to the bridge, whose own address (the AWS address + 9, "operator") is the source of
everything crmdr and the tests send from the root namespace. Processes started in a namespace
(`ip netns exec`) see only their own host's address, so a DROP inside one namespace is a true
partition, replication included. Only devices the lab made get a sysctl; deleting them (down)
removes their routes and settings with them.

Loopback (not root, or `network: loopback`): every host is an address on this machine's lo;
faults are iptables rules by address (recovery.adapters.local_firewall) and cannot cut
replication (it leaves from 127.0.0.1) nor one direction only.

Adding a host is one line in HOSTS. A service sharing a host's address (the lab DNS server on
the AWS stand-in's address, port 5353) is one line in SERVICES: it lives in that host's
namespace and is cut by port.
"""

import json
import logging
import subprocess
import time
from collections.abc import Callable, Sequence
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any

from drills.lab.settings import LabPaths, LabSettings
from drills.lab.system import is_root, pid_alive, port_open, terminate
from policies.errors import ConfigError, HostError

log = logging.getLogger(__name__)

HOSTS: dict[str, Callable[[LabSettings], IPv4Address | None]] = {
    "aws": lambda s: s.aws_ip,  # moto for both regions, and the lab DNS server (SERVICES)
    "primary": lambda s: s.primary_ip,
    "standby": lambda s: s.standby_ip,
    "app": lambda s: s.app_ip,
    "status": lambda s: s.status_ip,  # the status page server
    "intake": lambda s: s.intake_ip,  # the downtime intake service
}
SERVICES: dict[str, tuple[str, Callable[[LabSettings], tuple[int, ...]]]] = {
    "dns": ("aws", lambda s: (s.dns_port,)),  # moto's address: Route 53 answers from AWS's side
}
OPERATOR = "operator"
"""The root namespace (crmdr, the tests, the write probe): a source for `--from`, never a target."""
OPERATOR_OFFSET = 9
REGISTRY = "network.json"
INNER = "eth0"


def lab_hosts(settings: LabSettings) -> dict[str, str]:
    """Every host this lab has, by node name."""
    found = {name: address(settings) for name, address in HOSTS.items()}
    return {name: str(ip) for name, ip in found.items() if ip is not None}


def operator_ip(settings: LabSettings) -> str:
    return str(settings.aws_ip + OPERATOR_OFFSET)


def namespaced(settings: LabSettings) -> bool:
    """Namespaces when root unless the settings ask for loopback; asking for them as a user is refused."""
    if settings.network == "netns" and not is_root():
        raise ConfigError("lab setting network=netns needs root (ip netns); expected network=auto or loopback")
    return settings.network == "netns" or (settings.network == "auto" and is_root())


def _tag(settings: LabSettings) -> str:
    c, d = str(settings.aws_ip).split(".")[2:]
    return f"{c}-{d}"


def namespace(settings: LabSettings, node: str) -> str:
    return f"crmdr-{_tag(settings)}-{node}"


def bridge(settings: LabSettings) -> str:
    return f"crbr{_tag(settings).replace('-', 'x')}"


def _veth(ip: str) -> str:
    """Outer end, named by the host's address (at most 15 characters)."""
    return "cr" + "x".join(ip.split(".")[1:])


def registry(paths: LabPaths) -> dict[str, Any] | None:
    """What `ensure` set up: mode, bridge, operator address, each host's address and namespace."""
    file = paths.root / REGISTRY
    if not file.exists():
        return None
    data: dict[str, Any] = json.loads(file.read_text())
    return data


def host_namespace(paths: LabPaths, node: str) -> str | None:
    """The namespace a host's processes start in; None on a loopback lab (or before `up`)."""
    found = registry(paths)
    if not found or found["mode"] != "netns":
        return None
    host = found["hosts"].get(node)
    return str(host["namespace"]) if host else None


def in_namespace(paths: LabPaths, node: str, command: Sequence[str]) -> list[str]:
    """Prefix a command so that it runs on `node`'s host (its namespace), or unchanged."""
    name = host_namespace(paths, node)
    return ["ip", "netns", "exec", name, *command] if name else list(command)


def start_on(paths: LabPaths, node: str, command: Sequence[str], *, log: Path, ip: str, port: int, what: str,
             env: dict[str, str] | None = None) -> int:
    """Start a lab service detached on `node`'s host; its pid once ip:port accepts connections.

    A service that dies at start or is not up within 30 s is stopped and named with its log."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        process = subprocess.Popen(  # this interpreter, a module of ours, the lab's paths
            in_namespace(paths, node, command), stdout=out, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True, env=env)
    deadline = time.monotonic() + 30
    while not port_open(ip, port):
        if process.poll() is not None or time.monotonic() > deadline:
            terminate(process.pid)
            raise HostError(f"the {what} on {ip}:{port} did not start (see {log})")
        time.sleep(0.05)
    return process.pid


def _run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(list(args), capture_output=True, text=True, timeout=30)
    if check and done.returncode != 0:
        raise HostError(f"lab network: `{' '.join(args)}` failed: {done.stderr.strip()}")
    return done


def _exists_link(name: str) -> bool:
    return _run("ip", "link", "show", name, check=False).returncode == 0


def _namespaces() -> set[str]:
    return {line.split()[0] for line in _run("ip", "netns", "list").stdout.splitlines() if line.strip()}


def ensure(paths: LabPaths, settings: LabSettings) -> dict[str, Any]:
    """Create what is missing (idempotent) and write the registry; loopback labs get a registry too."""
    hosts = lab_hosts(settings)
    mode = "netns" if namespaced(settings) else "loopback"
    data: dict[str, Any] = {"mode": mode, "operator": operator_ip(settings) if mode == "netns" else None,
                            "bridge": bridge(settings) if mode == "netns" else None,
                            "services": {name: {"host": host, "ports": list(ports(settings))}
                                         for name, (host, ports) in SERVICES.items() if host in hosts},
                            "hosts": {node: {"ip": ip, "namespace": namespace(settings, node) if mode == "netns"
                                             else None} for node, ip in hosts.items()}}
    if mode == "netns":
        if operator_ip(settings) in hosts.values():
            raise ConfigError(f"lab settings: {operator_ip(settings)} (the AWS address + {OPERATOR_OFFSET}) is the "
                              "namespaced lab's own address in the root namespace; expected no host on it")
        _ensure_bridge(settings)
        existing = _namespaces()
        for node, ip in hosts.items():
            _ensure_host(settings, namespace(settings, node), ip, fresh=namespace(settings, node) not in existing)
    (paths.root / REGISTRY).write_text(json.dumps(data, indent=2) + "\n")
    return data


def _sysctl_localnet(device: str, *prefix: str) -> None:
    _run(*prefix, "sysctl", "-qw", f"net.ipv4.conf.{device}.route_localnet=1")


def _ensure_bridge(settings: LabSettings) -> None:
    name = bridge(settings)
    if not _exists_link(name):
        _run("ip", "link", "add", name, "type", "bridge")
    _sysctl_localnet(name)
    _run("ip", "addr", "replace", f"{operator_ip(settings)}/32", "dev", name, "scope", "global")
    _run("ip", "link", "set", name, "up")


def _ensure_host(settings: LabSettings, ns: str, ip: str, *, fresh: bool) -> None:
    inside = ("ip", "netns", "exec", ns)
    if fresh:
        _run("ip", "netns", "add", ns)
        _run(*inside, "ip", "link", "set", "lo", "up")
        _run(*inside, "ip", "addr", "replace", "127.0.0.1/32", "dev", "lo")
        _run(*inside, "ip", "addr", "del", "127.0.0.1/8", "dev", "lo", check=False)
    outer = _veth(ip)
    if not _exists_link(outer):
        _run("ip", "link", "add", outer, "type", "veth", "peer", "name", INNER, "netns", ns)
    _sysctl_localnet(outer)
    _run("ip", "link", "set", outer, "master", bridge(settings), "up")
    _sysctl_localnet(INNER, *inside)
    _run(*inside, "ip", "addr", "replace", f"{ip}/32", "dev", INNER, "scope", "global")
    _run(*inside, "ip", "link", "set", INNER, "up")
    _run(*inside, "ip", "route", "replace", "127.0.0.0/8", "dev", INNER, "src", ip)
    _run("ip", "route", "replace", f"{ip}/32", "dev", bridge(settings), "src", operator_ip(settings),
         "table", "local")


def remove(paths: LabPaths, settings: LabSettings) -> list[str]:
    """Delete every namespace, link and route the lab made (their rules go with them); what was removed."""
    if not is_root():
        return []
    removed = []
    existing = _namespaces()
    for node, ip in lab_hosts(settings).items():
        ns = namespace(settings, node)
        if ns in existing:
            _stop_leftovers(ns)
        if _exists_link(_veth(ip)):
            _run("ip", "link", "del", _veth(ip))
        if ns in existing:
            _run("ip", "netns", "del", ns)
            removed.append(f"namespace {ns}")
    if _exists_link(bridge(settings)):
        _run("ip", "link", "del", bridge(settings))
        removed.append(f"bridge {bridge(settings)}")
    (paths.root / REGISTRY).unlink(missing_ok=True)
    return removed


def _stop_leftovers(ns: str) -> None:
    """Processes still in the lab's namespace (a runbook's pg_basebackup, a session) are the lab's own."""
    for line in _run("ip", "netns", "pids", ns, check=False).stdout.split():
        pid = int(line)
        if pid_alive(pid):
            log.warning("stopping process %s left in %s", pid, ns)
            terminate(pid, timeout=5)
