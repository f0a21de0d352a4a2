"""Patroni + etcd (Debian's packages) against crmdr's failover, same machine, same run.

    .venv/bin/python -m benchmarks.patroni [--repeat 3]

A two-node Patroni 3 cluster (etcd v3, one member) on 127.0.NET.131/.132; the crash is
SIGKILL of the leader's Patroni and postmaster (a dead host: nobody releases the leader
key), and RTO = first INSERT acknowledged through a libpq multi-host connection string
(`target_session_attrs=read-write`, what a Patroni client uses instead of DNS) - crash.
Two settings: Patroni's defaults (ttl 30, loop_wait 10, retry_timeout 10) and the tightest
its validation accepts. crmdr's figure is the lab failover drill (benchmarks.rto.drill),
declared and detected by `crmdr watch`, measured in the same run. Size does not enter a
streaming failover: the databases are small.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import psycopg
import yaml

from benchmarks._lab import lab, net, print_rows
from benchmarks.rto import drill, watch_policy
from benchmarks.table import Row, row
from drills.lab.system import give_to_service_user, os_user, pg_bin_dir

SETTINGS = {"defaults": {"ttl": 30, "loop_wait": 10, "retry_timeout": 10},
            "tight": {"ttl": 10, "loop_wait": 1, "retry_timeout": 4}}  # ttl >= loop_wait + 2 x retry_timeout
PASSWORD = "bench-only-password"  # noqa: S105 (a throw-away cluster on loopback)


def ip(n: int) -> str:
    return f"127.0.{net()}.{130 + n}"


def wait(what: str, ready: Any, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.1)


def api(node: int, path: str) -> int:
    try:
        with urllib.request.urlopen(f"http://{ip(node)}:8008/{path}", timeout=1) as answer:
            return int(answer.status)
    except OSError as err:
        return int(getattr(err, "code", 0) or 0)


class Cluster:
    """etcd + two Patroni nodes under `work`, with `settings` as the bootstrap DCS config."""

    def __init__(self, work: Path, settings: dict[str, int]) -> None:
        self.work, self.settings = work, settings
        self.etcd: subprocess.Popen[bytes] | None = None
        self.nodes: dict[int, subprocess.Popen[bytes]] = {}

    def config(self, n: int) -> Path:
        home = self.work / f"p{n}"
        home.mkdir(exist_ok=True)
        give_to_service_user(home)
        config = {
            "scope": "crmbench", "name": f"p{n}", "log": {"level": "WARNING", "dir": str(home)},
            "restapi": {"listen": f"{ip(n)}:8008", "connect_address": f"{ip(n)}:8008"},
            "etcd3": {"hosts": f"{ip(0)}:2379"},
            "bootstrap": {"dcs": {**self.settings, "postgresql": {"use_pg_rewind": True, "parameters": {
                "wal_level": "replica", "wal_log_hints": "on", "hot_standby": "on"}}},
                "initdb": [{"encoding": "UTF8"}, "data-checksums"]},
            "postgresql": {
                "listen": f"{ip(n)}:5433", "connect_address": f"{ip(n)}:5433", "data_dir": str(home / "data"),
                "bin_dir": str(pg_bin_dir()), "pgpass": str(home / "pgpass"),
                "parameters": {"unix_socket_directories": str(home)},
                "authentication": {"superuser": {"username": "postgres", "password": PASSWORD},
                                   "replication": {"username": "replicator", "password": PASSWORD}},
                "pg_hba": ["local all all trust", "host all all 127.0.0.0/8 scram-sha-256",
                           "host replication replicator 127.0.0.0/8 scram-sha-256"]},
        }
        path = home / "patroni.yml"
        path.write_text(yaml.safe_dump(config))
        path.chmod(0o644)
        return path

    def start_etcd(self) -> None:
        data = self.work / "etcd"
        url, peer = f"http://{ip(0)}:2379", f"http://{ip(0)}:2380"
        self.etcd = subprocess.Popen(
            ["etcd", "--name", "e1", "--data-dir", str(data), "--listen-client-urls", url,
             "--advertise-client-urls", url, "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
             "--initial-cluster", f"e1={peer}", "--log-level", "error"],
            stdout=subprocess.DEVNULL, stderr=(self.work / "etcd.log").open("wb"), start_new_session=True)

    def start_node(self, n: int) -> None:
        user = os_user()
        self.nodes[n] = subprocess.Popen(
            ["patroni", str(self.config(n))], user=user, group=user, cwd=self.work / f"p{n}",
            stdout=(self.work / f"p{n}" / "stdout.log").open("wb"), stderr=subprocess.STDOUT,
            start_new_session=True)

    def leader(self) -> int | None:
        return next((n for n in (1, 2) if api(n, "primary") == 200), None)

    def healthy(self) -> bool:
        leader = self.leader()
        return leader is not None and api(3 - leader, "replica?lag=1MB") == 200

    def crash(self, n: int) -> None:
        """A dead host: the node's Patroni and its postmaster killed at once, nothing released."""
        pid_file = self.work / f"p{n}" / "data" / "postmaster.pid"
        postmaster = int(pid_file.read_text().split()[0])
        os.kill(self.nodes[n].pid, signal.SIGKILL)
        os.kill(postmaster, signal.SIGKILL)
        self.nodes[n].wait()

    def stop(self) -> None:
        for process in (*self.nodes.values(), self.etcd):
            if process is not None and process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()
        for n in (1, 2):  # postmasters Patroni started in their own sessions
            pid_file = self.work / f"p{n}" / "data" / "postmaster.pid"
            if pid_file.exists():
                subprocess.run(["runuser", "-u", os_user(), "--", str(pg_bin_dir() / "pg_ctl"), "stop", "-D",
                                str(pid_file.parent), "-m", "immediate"], capture_output=True)


def conninfo() -> str:
    return (f"host={ip(1)},{ip(2)} port=5433,5433 user=postgres password={PASSWORD} dbname=postgres "
            "target_session_attrs=read-write connect_timeout=1")


def sees_probe(node: int) -> bool:
    """The probe table has reached this node (so a promoted replica can take the write)."""
    try:
        with psycopg.connect(host=ip(node), port=5433, user="postgres", password=PASSWORD, dbname="postgres",
                             connect_timeout=1) as conn:
            found = conn.execute("SELECT to_regclass('probe') IS NOT NULL").fetchone()
            return bool(found and found[0])
    except psycopg.OperationalError:
        return False


def first_write(began: float, timeout: float = 120) -> float:
    """Seconds from `began` to the first acknowledged INSERT through the multi-host string."""
    while time.monotonic() - began < timeout:
        try:
            with psycopg.connect(conninfo(), autocommit=True) as conn:
                conn.execute("INSERT INTO probe (at) VALUES (now())")
                return time.monotonic() - began
        except psycopg.OperationalError:  # no read-write server yet; anything else is a bug here
            time.sleep(0.02)
    raise SystemExit(f"no write acknowledged within {timeout:g} s of the crash")


def one_failover(work: Path, settings: dict[str, int]) -> float:
    """A fresh cluster (a rejoined old leader is a different experiment), one crash, torn down."""
    cluster = Cluster(work, settings)
    try:
        cluster.start_etcd()
        for n in (1, 2):
            cluster.start_node(n)
            wait(f"Patroni node p{n}", lambda n=n: api(n, "health") == 200 or cluster.healthy(), 120)
        wait("a leader and a streaming replica", cluster.healthy, 120)
        with psycopg.connect(conninfo(), autocommit=True) as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS probe (id bigserial PRIMARY KEY, at timestamptz)")
        leader = cluster.leader()
        assert leader is not None
        wait("the probe table on the replica", lambda: sees_probe(3 - leader), 60)
        began = time.monotonic()
        cluster.crash(leader)
        return first_write(began)
    finally:
        cluster.stop()


def failovers(work: Path, settings: dict[str, int], repeat: int) -> list[float]:
    times = []
    for n in range(repeat):
        home = work / f"round{n}"
        home.mkdir()
        home.chmod(0o755)
        times.append(one_failover(home, settings))
        print(f"   Patroni {json.dumps(settings)}: {times[-1]:.3f} s", flush=True)
    return times


def run(argv: Sequence[str] | None = None) -> list[Row]:
    from benchmarks._lab import options

    opts = options(__doc__.splitlines()[0], argv)
    if shutil.which("patroni") is None or shutil.which("etcd") is None:
        raise SystemExit("patroni/etcd are not installed: run `make bench-setup` (as root) first")
    patroni: dict[str, list[float]] = {}
    for name, settings in SETTINGS.items():
        work = Path(tempfile.mkdtemp(prefix=f"crmdr-bench-patroni-{name}-", dir="/tmp"))
        work.chmod(0o755)
        try:
            patroni[name] = failovers(work, settings, opts.repeat)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    ours: dict[str, list[float]] = {"declared": [], "watch": []}
    with lab(6, 0.02) as bench, tempfile.TemporaryDirectory(prefix="crmdr-bench-rto-") as out:
        policy = watch_policy(bench.inventory, Path(out) / "policy.json")
        for _ in range(opts.repeat):
            ours["declared"].append(drill(bench.inventory_path, Path(out) / "reports")["rto"])
            ours["watch"].append(drill(bench.inventory_path, Path(out) / "reports", "--detect", "watch",
                                       "--policy", str(policy))["rto"])
    return [row(f"crmdr failover RTO, {mode}", ours[mode], f"Patroni + etcd, {name} ({json.dumps(SETTINGS[name])})",
                patroni[name], "ratio < 1.0 (faster)", 0.999)
            for mode in ours for name in SETTINGS]


def main(argv: list[str] | None = None) -> int:
    print_rows(run(argv))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
