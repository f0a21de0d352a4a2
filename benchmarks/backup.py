"""Backup, integrity verification and restore-test against the raw tools, same lab, same run.

    .venv/bin/python -m benchmarks.backup [--size-gb 1] [--repeat 3]

Each pair runs back to back on the same recovery point and bucket (the lab's moto server);
both sides are processes started from a shell, as a user would run them:
1. `crmdr backup run --kind physical` vs `pg_basebackup -Ft -X fetch -D - | s3cp up`
   (`-X stream` cannot write a tar to stdout: pg_basebackup refuses it);
2. `crmdr backup verify` (manifest, SHA-256 of every byte, tar, pg_verifybackup, WAL chain)
   vs `s3cp down` + `sha256sum` (which checks only the hash);
3. `crmdr backup verify --restore` (all of 2, start, table digests, CRM invariants, amcheck)
   vs `s3cp down` + `tar -x` + `pg_ctl start` + a count query.
"""

import json
import os
import shutil
import sys
import tempfile
from collections.abc import Sequence
from functools import partial
from pathlib import Path

from benchmarks._lab import lab, options, print_rows, sh, timed
from benchmarks.table import Row, row
from recovery.adapters.scratch_pg import service_user
from recovery.adapters.secrets import resolve_secret
from recovery.inventory import HostNode, load_inventory

CRMDR = [sys.executable, "-m", "crmdr"]
S3CP = [sys.executable, "-m", "benchmarks._s3cp"]


def as_user(command: list[str]) -> list[str]:
    user = service_user()
    return ["runuser", "-u", user, "--", *command] if user else command


class Raw:
    """The same jobs done with the raw tools."""

    def __init__(self, inventory_file: Path, work: Path) -> None:
        inventory = load_inventory(inventory_file)
        assert isinstance(inventory.database.primary, HostNode)
        self.node, self.inventory, self.file, self.work = inventory.database.primary, inventory, inventory_file, work
        ref = inventory.database.replication_password or inventory.database.password
        self.password = resolve_secret(ref, inventory) if ref else ""
        db_ref = inventory.database.password
        self.db_password = resolve_secret(db_ref, inventory) if db_ref else ""
        self.key = "bench/raw/base.tar"

    def bin(self, name: str) -> str:
        return str(Path(self.node.bin_dir) / name)

    def fresh(self, name: str) -> Path:
        path = self.work / name
        shutil.rmtree(path, ignore_errors=True)
        path.mkdir(mode=0o700)
        if user := service_user():
            shutil.chown(path, user, user)
        return path

    def backup_upload(self) -> None:
        basebackup = [self.bin("pg_basebackup"), "-h", self.node.host, "-p", str(self.node.pg_port),
                      "-U", self.inventory.database.replication_user, "--no-password", "-D", "-",
                      "-F", "tar", "-X", "fetch", "-c", "fast"]
        pipeline = f"set -o pipefail; {' '.join(basebackup)} | {' '.join(S3CP)} up {self.file} {self.key}"
        sh(["bash", "-c", pipeline], env={"PGPASSWORD": self.password})

    def download_hash(self) -> Path:
        tar = self.work / "base.tar"
        sh([*S3CP, "down", str(self.file), self.key, str(tar)])
        sh(["sha256sum", str(tar)])
        return tar

    def restore_start_count(self) -> None:
        tar = self.work / "base.tar"
        sh([*S3CP, "down", str(self.file), self.key, str(tar)])
        data, sock = self.fresh("data"), self.fresh("sock")
        os.chmod(tar, 0o644)
        sh(as_user(["tar", "-x", "-f", str(tar), "-C", str(data)]))
        (sock / "hba").write_text("local all all trust\n")
        sh(as_user([self.bin("pg_ctl"), "start", "-D", str(data), "-w", "-l", str(sock / "log"), "-o",
                    f"-c listen_addresses='' -c unix_socket_directories='{sock}' -c port=5432 "
                    f"-c hba_file='{sock}/hba' -c archive_mode=off "
                    "-c primary_conninfo='' -c synchronous_standby_names=''"]))
        try:
            sh([self.bin("psql"), "-h", str(sock), "-U", self.inventory.database.user, "-d",
                self.inventory.database.name, "-Atc", "SELECT count(*) FROM activities"],
               env={"PGPASSWORD": self.db_password})
        finally:
            sh(as_user([self.bin("pg_ctl"), "stop", "-D", str(data), "-m", "immediate", "-w"]))


def ours(inventory_file: Path, *args: str) -> dict[str, object]:
    env = {"CRMDR_SCRATCH_DIR": tempfile.gettempdir()}
    return dict(json.loads(sh([*CRMDR, "backup", *args, "--inventory", str(inventory_file), "--json"], env)))


def one_round(inventory_file: Path, raw: Raw, times: dict[str, list[float]]) -> None:
    """Each of ours right before its raw counterpart, on the same point."""
    point: dict[str, object] = {}
    times["run"].append(timed(lambda: point.update(ours(inventory_file, "run", "--kind", "physical"))))
    times["raw_run"].append(timed(raw.backup_upload))
    pid = str(point["id"])
    times["verify"].append(timed(partial(ours, inventory_file, "verify", "--id", pid)))
    times["raw_verify"].append(timed(raw.download_hash))
    times["restore"].append(timed(partial(ours, inventory_file, "verify", "--id", pid, "--restore")))
    times["raw_restore"].append(timed(raw.restore_start_count))


def measure(inventory_file: Path, repeat: int, size_gb: float) -> list[Row]:
    work = Path(tempfile.mkdtemp(prefix="crmdr-bench-", dir="/tmp"))
    work.chmod(0o755)
    raw = Raw(inventory_file, work)
    times: dict[str, list[float]] = {k: [] for k in (
        "run", "raw_run", "verify", "raw_verify", "restore", "raw_restore")}
    try:
        for _ in range(repeat):
            one_round(inventory_file, raw, times)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    size = f"{size_gb:g} GB"
    return [
        row(f"backup run --kind physical ({size})", times["run"],
            "pg_basebackup -Ft -X fetch | S3 upload", times["raw_run"], "ratio <= 1.05", 1.05),
        row(f"backup verify ({size})", times["verify"], "S3 download + sha256sum",
            times["raw_verify"], "ratio < 1.0", 0.999),
        row(f"backup verify --restore ({size})", times["restore"],
            "S3 download + tar -x + pg_ctl start + count", times["raw_restore"], "ratio <= 1.05", 1.05),
    ]


def run(argv: Sequence[str] | None = None) -> list[Row]:
    opts = options(__doc__.splitlines()[0], argv)
    with lab(1, opts.size_gb) as bench:
        return measure(bench.inventory_path, opts.repeat, opts.size_gb)


def main(argv: list[str] | None = None) -> int:
    print_rows(run(argv))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
