"""`crmdr lab up | status | down`: bring the parts up in order, report health, stop by PID.

`up` is idempotent: every part is "ensured" (created when missing, started when stopped).
A second `up` with other settings is refused rather than silently rebuilding a lab.
"""

import logging
import os
import secrets
import shutil
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel, ConfigDict, ValidationError

from drills.lab import aws, cuts, dns_server, intake_server, network, postgres, sshd, status_server
from drills.lab.settings import LabPaths, LabSettings
from drills.lab.system import (
    check_traversable,
    ensure_os_user,
    give_to_service_user,
    os_user,
    pg_bin_dir,
    pid_alive,
    port_open,
    sshd_binary,
    wait_port,
)
from drills.lab.topology import lab_inventory
from policies.errors import ConfigError, DrError
from recovery.adapters import local_firewall
from recovery.adapters.postgres import connect
from recovery.inventory import Inventory, load_inventory

log = logging.getLogger(__name__)

Progress = Callable[[str], None]
NODES = ("primary", "standby")
APP = "app"


class LabState(BaseModel):
    """What `up` started, so `down` stops exactly that (by PID) and `up` can compare settings."""

    model_config = ConfigDict(extra="forbid")

    settings: LabSettings
    moto_pid: int | None = None
    status_pid: int | None = None
    dns_pid: int | None = None
    created_at: str


def read_state(paths: LabPaths) -> LabState | None:
    if not paths.state.exists():
        return None
    try:
        return LabState.model_validate_json(paths.state.read_text())
    except (ValidationError, ValueError):
        raise ConfigError(f"{paths.state}: not a lab state file; remove the directory or use another --dir") from None


def _write_state(paths: LabPaths, state: LabState) -> None:
    paths.state.write_text(state.model_dump_json(indent=2))


def _ip(settings: LabSettings, node: str) -> str:
    return str({"primary": settings.primary_ip, "app": settings.app_ip}.get(node, settings.standby_ip))


def _ssh_nodes(settings: LabSettings) -> tuple[str, ...]:
    """Every host with an sshd: the database nodes, and the app host when the lab has one."""
    return (*NODES, APP) if settings.app_ip else NODES


def _listeners(settings: LabSettings) -> list[tuple[str, str, int]]:
    """(what, ip, port) of every listening socket a lab owns."""
    found = [("moto server", str(settings.aws_ip), settings.aws_port),
             ("status page server", str(settings.status_ip), settings.status_port),
             ("lab DNS server", str(settings.aws_ip), settings.dns_port)]
    for node in NODES:
        found.append((f"PostgreSQL of {node}", _ip(settings, node), settings.pg_port))
        found.append((f"sshd of {node}", _ip(settings, node), settings.ssh_port))
    if settings.app_ip:
        found.append((f"sshd of {APP}", _ip(settings, APP), settings.ssh_port))
    return found


def _owned_pids(paths: LabPaths, state: LabState | None) -> dict[str, int | None]:
    pids: dict[str, int | None] = {"moto server": state.moto_pid if state else None,
                                   "status page server": state.status_pid if state else None,
                                   "lab DNS server": state.dns_pid if state else None}
    for node in NODES:
        pids[f"PostgreSQL of {node}"] = postgres.postmaster_pid(paths, node)
        pids[f"sshd of {node}"] = sshd.pid(paths, node)
    pids[f"sshd of {APP}"] = sshd.pid(paths, APP)
    return pids


def _refuse_foreign_ports(paths: LabPaths, settings: LabSettings, state: LabState | None) -> None:
    pids = _owned_pids(paths, state)
    for what, ip, port in _listeners(settings):
        if not pid_alive(pids[what]) and port_open(ip, port):
            raise ConfigError(
                f"{ip}:{port} (for the {what}) is already in use by another process; "
                "expected a free port (choose another with the lab's port options)"
            )


def _ensure_secrets(paths: LabPaths) -> dict[str, str]:
    paths.secrets.mkdir(parents=True, exist_ok=True)
    paths.secrets.chmod(0o700)
    values = {}
    for name in ("db_password", "replication_password"):
        file = paths.secrets / name
        if not file.exists():
            with os.fdopen(os.open(file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as out:
                out.write(secrets.token_urlsafe(24))
        values[name] = file.read_text().strip()
    return values


def up(root: Path, settings: LabSettings, progress: Progress) -> Inventory:
    """Bring every part up; return the inventory written to DIR/inventory.json."""
    paths = LabPaths(root)
    state = read_state(paths)
    if state and state.settings != settings:
        raise ConfigError(
            f"{paths.root}: a lab with other settings is already here "
            f"({'; '.join(settings.differences(state.settings))}); "
            f"expected the same settings, or `crmdr lab down --purge --dir {root}` first"
        )
    bin_dir = pg_bin_dir()
    sshd_binary()
    _refuse_foreign_ports(paths, settings, state)
    paths.root.mkdir(parents=True, exist_ok=True)
    paths.root.chmod(0o755)
    check_traversable(paths.root)
    ensure_os_user()
    state = state or LabState(settings=settings, created_at=datetime.now(UTC).isoformat())
    _write_state(paths, state)
    network.ensure(paths, settings)
    passwords = _ensure_secrets(paths)
    sshd.keygen(paths.client_key, "crmdr-lab-client")

    progress("PostgreSQL primary")
    if not paths.data_dir("primary").exists():
        postgres.init_primary(paths, settings, bin_dir, {"db": passwords["db_password"]})
    postgres.start(paths, "primary", _ip(settings, "primary"), settings.pg_port, bin_dir)
    postgres.set_replication_password(settings, passwords["db_password"], passwords["replication_password"])
    progress(f"CRM data ({settings.rows} accounts, seed {settings.seed})")
    postgres.load_crm(settings, passwords["db_password"])

    progress("PostgreSQL standby")
    postgres.write_passfile(paths, passwords["replication_password"])
    if not paths.data_dir("standby").exists():
        postgres.clone_standby(paths, settings, bin_dir)
    postgres.start(paths, "standby", _ip(settings, "standby"), settings.pg_port, bin_dir)

    progress("sshd on every host")
    if settings.app_ip:
        _ensure_app_config(paths, settings)
    for node in _ssh_nodes(settings):
        sshd.start(paths, node, _ip(settings, node), settings.ssh_port)

    progress("AWS stand-in (moto) for both regions")
    moto_pid = aws.start_moto(paths, settings, state.moto_pid)
    state = state.model_copy(update={"moto_pid": moto_pid})
    _write_state(paths, state)
    inventory = status_server.provision(intake_server.provision(_provision(paths, settings, bin_dir), settings),
                                        settings)
    paths.inventory.write_text(inventory.to_json() + "\n")
    paths.inventory.chmod(0o644)
    progress("lab DNS server (the zone as applications resolve it)")
    state = state.model_copy(update={"dns_pid": dns_server.start(paths, settings, state.dns_pid)})
    _write_state(paths, state)
    progress("status page server")
    state = state.model_copy(update={"status_pid": status_server.start(paths, settings, state.status_pid)})
    _write_state(paths, state)
    progress("downtime intake service")
    intake_server.start(paths, settings)
    wait_streaming(settings, passwords["db_password"])
    return inventory


def _provision(paths: LabPaths, settings: LabSettings, bin_dir: Path) -> Inventory:
    """Reuse the written inventory while the stand-in still holds it; otherwise create it."""
    if paths.inventory.exists():
        written = load_inventory(paths.inventory)
        if aws.provisioned(written):  # a lab from before its DNS server learns where to resolve
            dns = written.dns.model_copy(update={"resolver": f"{settings.aws_ip}:{settings.dns_port}"})
            return written.model_copy(update={"dns": dns})
    from policies.sla import load_policy

    retention = load_policy().tier(settings.sla_tier).retention.days
    known = {node: sshd.known_hosts_line(paths, node, _ip(settings, node), settings.ssh_port)
             for node in _ssh_nodes(settings)}
    draft = lab_inventory(
        settings, paths, user=os_user(), bin_dir=str(bin_dir), known_hosts=known, account=aws.MOTO_ACCOUNT
    )
    return aws.provision(draft, retention_days=retention)


def _ensure_app_config(paths: LabPaths, settings: LabSettings) -> None:
    """The app host's env file, first naming the primary; its SSH user owns the directory (atomic mv)."""
    config = paths.app_config()
    if not config.exists():
        config.parent.mkdir(parents=True, exist_ok=True)
        config.write_text(f"# CRM application settings (crm-dr lab)\nCRMDR_DB_HOST={settings.primary_ip}\n")
        give_to_service_user(config.parent)


def wait_streaming(settings: LabSettings, password: str, timeout: float = 30) -> None:
    """The primary sees its standby streaming (any direction, after a failover too)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _replication(settings, password).get("state") == "streaming":
            return
        time.sleep(0.1)
    raise DrError(f"the standby did not start streaming within {timeout:g}s")


def _replication(settings: LabSettings, password: str) -> dict[str, Any]:
    """pg_stat_replication as the current primary (whichever node) reports it."""
    for node in NODES:
        try:
            with connect(_ip(settings, node), settings.pg_port, user=postgres.DB_USER, password=password,
                         dbname="postgres", timeout=2) as conn:
                if conn.execute("SELECT pg_is_in_recovery()").fetchone() != (False,):
                    continue
                row = conn.execute(
                    "SELECT application_name, state, sync_state, "
                    "pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::bigint, "
                    "extract(epoch FROM coalesce(replay_lag, '0'))::float "
                    "FROM pg_stat_replication LIMIT 1"
                ).fetchone()
        except DrError:
            continue
        if row:
            return {"primary": node, "standby": row[0], "state": row[1], "sync_state": row[2],
                    "lag_bytes": row[3], "lag_seconds": row[4]}
        return {"primary": node, "state": "none"}
    return {"state": "no primary"}


def status(root: Path) -> dict[str, Any]:
    """Health of every part and the replication lag; `healthy` only when all parts are."""
    paths = LabPaths(root)
    state = read_state(paths)
    if state is None:
        return {"dir": str(paths.root), "up": False, "healthy": False, "parts": [], "replication": {}}
    settings = state.settings
    password = (paths.secrets / "db_password").read_text().strip()
    pids = _owned_pids(paths, state)
    parts = []
    for what, ip, port in _listeners(settings):
        alive = pid_alive(pids[what])
        listening = port_open(ip, port)
        part: dict[str, Any] = {"part": what, "address": f"{ip}:{port}", "pid": pids[what],
                                "healthy": alive and listening}
        if what.startswith("PostgreSQL") and part["healthy"]:
            part["role"] = _role(ip, settings.pg_port, password)
        if what == "lab DNS server" and part["healthy"] and paths.inventory.exists():
            part.update(dns_server.describe(load_inventory(paths.inventory), paths))
        parts.append(part)
    parts.append(intake_server.status(paths, settings))
    if parts[0]["healthy"] and paths.inventory.exists():
        try:
            parts.append({"part": "AWS resources", **aws.describe(load_inventory(paths.inventory)), "healthy": True})
        except (BotoCoreError, ClientError, DrError) as err:  # a stand-in that lost its state
            parts.append({"part": "AWS resources", "healthy": False, "error": type(err).__name__})
    replication = _replication(settings, password) if any(
        p["healthy"] for p in parts if p["part"].startswith("PostgreSQL")) else {}
    primaries = [f"{p['part']} ({p['address']})" for p in parts if p.get("role") == "primary"]
    warnings = [f"two primaries run: {' and '.join(primaries)} both take writes (split brain); stop the "
                "one that must not, then `crmdr failback`"] if len(primaries) > 1 else []
    replication["receiver"] = postgres.wal_receiver(paths, "standby", _ip(settings, "standby"), settings.pg_port,
                                                    password)
    active = cuts.active(root)
    healthy = (all(p["healthy"] for p in parts) and replication.get("state") == "streaming" and not warnings
               and not active)
    registry = network.registry(paths) or {}
    return {"dir": str(paths.root), "up": True, "healthy": healthy, "parts": parts, "warnings": warnings,
            "replication": replication, "cuts": active, "network": _network(registry),
            "settings": settings.model_dump(mode="json")}


def _network(registry: dict[str, Any]) -> dict[str, Any]:
    """How the hosts are joined, and which fault tests that way cannot run."""
    mode = registry.get("mode", "loopback")
    cannot = [] if mode == "netns" else [
        "one-way cuts (--from) and per-service cuts", "a cut standby losing replication (it leaves from 127.0.0.1)",
        "the tests marked needs_netns (tests/lab/conftest.py)"]
    return {"mode": mode, "bridge": registry.get("bridge"), "operator": registry.get("operator"),
            "hosts": registry.get("hosts", {}), "cannot": cannot}


def _role(ip: str, port: int, password: str) -> str:
    try:
        with connect(ip, port, user=postgres.DB_USER, password=password, dbname="postgres", timeout=2) as conn:
            row = conn.execute("SELECT pg_is_in_recovery()").fetchone()
    except DrError:
        return "unreachable"
    return "standby" if row == (True,) else "primary"


def _heal_cuts(settings: LabSettings) -> list[str]:
    """Heal the lab's cuts and isolations first: stopping a cut-off host would wait for timeouts."""
    addresses = [str(ip) for ip in (settings.primary_ip, settings.standby_ip, settings.aws_ip)]
    healed = []
    try:
        for kind, prefix in (("network cut", local_firewall.PREFIX), ("isolation", local_firewall.ISOLATION)):
            for address in (a for a in addresses if local_firewall.is_cut(a, prefix)):
                local_firewall.heal(address, prefix)
                healed.append(f"{kind} of {address}")
    except ConfigError:  # no iptables or not root: nothing can have been cut
        return []
    return healed


def _stop_services(paths: LabPaths, state: LabState) -> list[str]:
    """The lab's own servers, after the hosts: intake, status page, DNS, then the AWS stand-in they use."""
    stopped = []
    if intake_server.stop(paths, state.settings):
        stopped.append(intake_server.WHAT)
    if pid_alive(state.status_pid):
        status_server.stop(state.status_pid)
        stopped.append("status page server")
    if pid_alive(state.dns_pid):
        dns_server.stop(state.dns_pid)
        stopped.append("lab DNS server")
    if pid_alive(state.moto_pid):
        aws.stop_moto(state.moto_pid)
        stopped.append("moto server")
    return stopped


def down(root: Path, *, purge: bool) -> list[str]:
    """Stop what `up` started, by PID; leave no listening port. Returns what was stopped."""
    paths = LabPaths(root)
    state = read_state(paths)
    if state is None:
        if purge and paths.root.exists():
            raise ConfigError(f"{paths.root}: not a lab directory (no lab.json); refusing to remove it")
        return []
    healed = cuts.heal(root) if network.registry(paths) else []
    stopped = [f"cut of {c['node']}" + (f" from {c['from']}" if c["from"] else "") for c in healed]
    stopped += _heal_cuts(state.settings)
    bin_dir = pg_bin_dir()
    for node in reversed(NODES):
        if pid_alive(postgres.postmaster_pid(paths, node)):
            postgres.stop(paths, node, bin_dir)
            stopped.append(f"PostgreSQL of {node}")
        if pid_alive(sshd.pid(paths, node)):
            sshd.stop(paths, node)
            stopped.append(f"sshd of {node}")
    if pid_alive(sshd.pid(paths, APP)):
        sshd.stop(paths, APP)
        stopped.append(f"sshd of {APP}")
    stopped += _stop_services(paths, state)
    for what, ip, port in _listeners(state.settings):
        wait_port(ip, port, open_=False, timeout=15, what=what)
    stopped += network.remove(paths, state.settings)
    if purge:
        shutil.rmtree(paths.root)
    else:
        _write_state(paths, state.model_copy(update={"moto_pid": None, "status_pid": None, "dns_pid": None}))
    return stopped
