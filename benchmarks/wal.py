"""WAL archiving while pgbench writes, and PITR replay of the archived WAL, against the baselines (same run).

    .venv/bin/python -m benchmarks.wal [--scale 50]      # BENCH_QUICK=1: --scale 10

On the benchmark's own lab (archiving installed with `crmdr backup wal install`):
1. push: `pgbench -i -s SCALE` on the primary, twice: with the archive_command as installed
   (the archiver: parallel uploads of every ready segment) and with `--direct` (the old way:
   one process, inventory and S3 client per segment). Timed from pgbench's start until every
   segment it filled is archived; the backlog (`archive_status/*.ready`) is sampled every 0.5 s
   next to the WAL written so far.
2. replay: a base backup taken before both pgbench runs, recovered to the end of the archive
   with restore_command as hosts get it (`recovery.wal.spool.restore_command`: a rename from the
   restore queue, else `recovery.wal_fetch`) and with `cp` from a local directory holding the
   same segments (the baseline: replay from local disk); 3 runs each, alternating.
"""

import argparse
import contextlib
import os
import shlex
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from benchmarks._lab import lab, print_rows, sh
from benchmarks.table import Row, row
from recovery.adapters.s3_store import S3ObjectStore
from recovery.adapters.scratch_pg import service_user
from recovery.adapters.secrets import optional_secret
from recovery.inventory import HostNode, Inventory, load_inventory
from recovery.wal.segments import Segment, parse_segment
from recovery.wal.spool import restore_command

CRMDR = [sys.executable, "-m", "crmdr"]
MiB = 1024 * 1024
PUSH_GOAL_MBS = 150.0
REPLAY_GOAL = 0.7  # replay speed from the bucket / from local disk
REPLAY_RUNS = 3  # replays each way (median; one run swung 0.9-1.8 with the machine's load)


def as_user(command: list[str]) -> list[str]:
    user = service_user()
    return ["runuser", "-u", user, "--", *command] if user else command


def owned(path: Path) -> Path:
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    if user := service_user():
        shutil.chown(path, user, user)
    return path


class Primary:
    def __init__(self, inventory: Inventory, path: Path) -> None:
        node = inventory.database.primary
        assert isinstance(node, HostNode)
        self.node, self.inventory, self.path = node, inventory, path
        self.password = optional_secret(inventory.database.password, inventory) or ""

    def connect(self) -> psycopg.Connection[Any]:
        """Autocommit, as the inventory's database user (ALTER SYSTEM runs outside a transaction)."""
        db = self.inventory.database
        return psycopg.connect(host=self.node.host, port=self.node.pg_port, user=db.user, password=self.password,
                               dbname=db.name, autocommit=True)

    def sql(self, query: str) -> Any:
        with self.connect() as conn:
            return conn.execute(query).fetchone()

    def set_archive(self, command: str) -> None:
        with self.connect() as conn:
            conn.execute(sql.SQL("ALTER SYSTEM SET archive_command = {}").format(sql.Literal(command)))
            conn.execute("SELECT pg_reload_conf()")

    def ready(self) -> int:
        status = Path(self.node.data_dir) / "pg_wal" / "archive_status"
        return sum(1 for name in os.listdir(status) if name.endswith(".ready"))

    def env(self) -> dict[str, str]:
        return {"PGPASSWORD": self.password}

    def client(self, tool: str, *args: str) -> list[str]:
        db = self.inventory.database
        return [f"{self.node.bin_dir}/{tool}", "-h", self.node.host, "-p", str(self.node.pg_port),
                "-U", db.user, *args]


def push_round(primary: Primary, scale: int, command: str, *, drain: bool = False) -> dict[str, Any]:
    """pgbench -i with `command` as archive_command: seconds until all archived, backlog samples.

    With `drain`, archiving is paused (archive_command '') while pgbench writes and the time is
    taken from setting the command until the backlog is archived: the push rate on its own.
    """
    primary.set_archive("" if drain else command)
    primary.sql("SELECT pg_switch_wal()")
    time.sleep(1.0)
    start_count = int(primary.sql("SELECT archived_count FROM pg_stat_archiver")[0])
    start_lsn = str(primary.sql("SELECT pg_current_wal_lsn()")[0])
    samples: list[tuple[float, int, float]] = []
    done = threading.Event()
    began = time.monotonic()

    def sample() -> None:
        while not done.is_set():
            lsn = primary.sql(f"SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '{start_lsn}')")[0]
            samples.append((time.monotonic() - began, primary.ready(), float(lsn) / MiB))
            done.wait(0.5)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    sh(primary.client("pgbench", "-i", "-q", "-s", str(scale), primary.inventory.database.name), env=primary.env())
    written = time.monotonic() - began
    if drain:
        primary.set_archive(command)
        began = time.monotonic()
    current = parse_segment(str(primary.sql("SELECT pg_walfile_name(pg_current_wal_lsn())")[0]))
    assert current is not None
    last = Segment(current.timeline, current.number - 1).name()  # the last one pgbench filled
    while primary.ready() or str(primary.sql("SELECT last_archived_wal FROM pg_stat_archiver")[0] or "") < last:
        time.sleep(0.05)
    drained = time.monotonic() - began
    done.set()
    sampler.join()
    segments = int(primary.sql("SELECT archived_count FROM pg_stat_archiver")[0]) - start_count
    return {"seconds": drained, "written": written, "segments": segments, "samples": samples,
            "mbs": segments * 16 / drained, "backlog_max": max((s[1] for s in samples), default=0)}


def replay_round(base: Path, work: Path, name: str, restore_command: str, primary: Primary) -> float:
    """Recover a copy of the base backup to the end of the archive; seconds from start to promoted."""
    data = work / name
    shutil.rmtree(data, ignore_errors=True)
    shutil.copytree(base, data, symlinks=True)
    owned(data)
    sh(["chown", "-R", service_user() or "root", str(data)])
    port = primary.node.pg_port + 50
    logs = owned(work / "logs")
    settings = {"port": str(port), "listen_addresses": "''", "unix_socket_directories": shlex.quote(str(logs)),
                "archive_mode": "off", "primary_conninfo": "''", "hot_standby": "off",
                "restore_command": shlex.quote(restore_command), "recovery_target_timeline": "latest"}
    (data / "recovery.signal").touch()
    options = " ".join(f"-c {k}={v}" for k, v in settings.items())
    began = time.monotonic()
    sh(as_user([f"{primary.node.bin_dir}/pg_ctl", "start", "-W", "-D", str(data), "-l", str(logs / f"{name}.log"),
                "-o", options]))
    while (data / "recovery.signal").exists():
        time.sleep(0.02)
    elapsed = time.monotonic() - began
    sh(as_user([f"{primary.node.bin_dir}/pg_ctl", "stop", "-D", str(data), "-m", "fast"]))
    shutil.rmtree(data, ignore_errors=True)
    return elapsed


def stop_helper(spool: Path) -> None:
    """Kill the archiver or restore queue serving `spool`, if one runs."""
    with contextlib.suppress(FileNotFoundError, ValueError, ProcessLookupError):
        os.kill(int((spool / "helper.started").read_text()), signal.SIGKILL)


def backlog_line(samples: list[tuple[float, int, float]]) -> str:
    return ", ".join(f"{t:.0f}s:{ready}/{mib:.0f}MiB" for t, ready, mib in samples[::4])


def measure(bench_path: Path, scale: int, work: Path) -> list[Row]:
    inventory = load_inventory(bench_path)
    primary = Primary(inventory, bench_path)
    sh([*CRMDR, "backup", "wal", "install", "--inventory", str(bench_path)])
    installed = str(primary.sql("SHOW archive_command")[0])
    base = work / "base"
    db = inventory.database
    replication = optional_secret(db.replication_password or db.password, inventory) or ""
    sh([f"{primary.node.bin_dir}/pg_basebackup", "-h", primary.node.host, "-p", str(primary.node.pg_port),
        "-U", db.replication_user, "-D", str(base), "-X", "fetch", "-c", "fast"], env={"PGPASSWORD": replication})
    direct = installed.replace(" -m recovery.wal_push ", " -m recovery.wal_push --direct ")
    stop_helper(Path(primary.node.data_dir).parent / "crmdr-wal-spool")  # the proof's: not to help the old
    pushed = {}
    for mode, command in (("direct", direct), ("archiver", installed)):
        pushed[mode] = push_round(primary, scale, command)
        found = pushed[mode]
        print(f"   push {mode} while pgbench writes: {found['segments']} segments in {found['seconds']:.1f} s "
              f"({found['mbs']:.0f} MB/s; pgbench wrote for {found['written']:.1f} s); backlog max "
              f"{found['backlog_max']}; ready/written: {backlog_line(found['samples'])}", flush=True)
    backlog = push_round(primary, scale, installed, drain=True)
    print(f"   push archiver, backlog of {backlog['segments']} segments: {backlog['seconds']:.1f} s "
          f"({backlog['mbs']:.0f} MB/s)", flush=True)
    local = owned(work / "walcopy")
    store = S3ObjectStore(inventory)
    names = [obj.key.removeprefix("wal/") for obj in store.list("wal/")]
    for key in names:
        (local / key).write_bytes(store.get_bytes(f"wal/{key}"))
    sh(["chown", "-R", service_user() or "root", str(local)])
    queue = work / "queue"
    fetch = restore_command(sys.executable, str(bench_path), str(queue))
    local_times, ours_times = [], []
    for _ in range(REPLAY_RUNS):  # alternating, so a burst of load on the shared machine hits both
        local_times.append(replay_round(base, work, "local", f"cp {local}/%f %p", primary))
        owned(queue)
        ours_times.append(replay_round(base, work, "ours", fetch, primary))
        stop_helper(queue)  # each restore starts with a cold queue, as a real one does
        shutil.rmtree(queue)
    segments = sum(1 for n in names if len(n) == 24)
    ours, old = pushed["archiver"], pushed["direct"]
    push_name = (f"WAL push, pgbench -i -s {scale}: {ours['segments']} segments archived, {ours['mbs']:.0f} MB/s "
                 f"(direct {old['mbs']:.0f} MB/s), backlog max {ours['backlog_max']} (direct {old['backlog_max']})")
    push = row(push_name, [ours["seconds"]], "old: a process per segment (--direct)", [old["seconds"]],
               "all archived when pgbench ends (ratio vs old)")
    drain = row(f"WAL push of a {backlog['segments']}-segment backlog: {backlog['mbs']:.0f} MB/s (old, "
                f"while writing: {old['mbs']:.0f} MB/s)", [backlog["seconds"]])
    drain = Row(**{**drain.__dict__, "goal": f">= {PUSH_GOAL_MBS:g} MB/s",
                   "met": backlog["mbs"] >= PUSH_GOAL_MBS})
    replay = row(f"PITR replay of {segments} archived segments through the restore queue", ours_times,
                 "cp from local disk", local_times, f"speed >= {REPLAY_GOAL:g}x local (ratio <= "
                 f"{1 / REPLAY_GOAL:.2f})", round(1 / REPLAY_GOAL, 2))
    return [push, drain, replay]


def run(argv: Sequence[str] | None = None) -> list[Row]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    quick = os.environ.get("BENCH_QUICK", "") not in ("", "0")
    parser.add_argument("--scale", type=int, default=10 if quick else 50, help="pgbench -i scale")
    opts = parser.parse_args(list(argv or []))
    with lab(7, 0.02) as bench, tempfile.TemporaryDirectory(prefix="crmdr-bench-wal-") as work:
        Path(work).chmod(0o755)  # the service user reaches its directories inside
        return measure(bench.inventory_path, opts.scale, Path(work))


def main(argv: list[str] | None = None) -> int:
    print_rows(run(argv))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
