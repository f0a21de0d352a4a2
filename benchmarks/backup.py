"""Backup per compression and source, integrity verification and restore-test against the raw tools.

    .venv/bin/python -m benchmarks.backup [--size-gb 1] [--repeat 3]

Each pair runs back to back on the same database and bucket (the lab's moto server); both sides
are processes started from a shell, as a user would run them:
1. `crmdr backup run --kind physical --compress C` for C in none, lz4, zstd vs
   `pg_basebackup -Ft -X fetch [--compress=client-C] -D - | s3cp up` (the same bytes stored;
   `-X stream` cannot write a tar to stdout: pg_basebackup refuses it), with the bytes stored;
2. `crmdr backup run --from standby` (default compression) vs the same pipe against the standby;
3. `crmdr backup verify` of the default-compression point (manifest, SHA-256 of every byte,
   expand, tar, pg_verifybackup, WAL chain) vs `s3cp down` + `sha256sum` (the hash only);
4. `crmdr backup verify --restore` (all of 3, start, table digests, CRM invariants, amcheck)
   vs `s3cp down` + `tar -x` (through the codec) + `pg_ctl start` + a count query.
Every `backup run` runs under `/usr/bin/time -v`: its peak RSS is a row of its own (the
largest over all runs; goal < 100 MB).
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
from recovery.adapters.pg_tools import compress_flags
from recovery.adapters.scratch_pg import service_user
from recovery.adapters.secrets import resolve_secret
from recovery.backups.compression import COMPRESSIONS, DEFAULT, SUFFIX, Compression
from recovery.inventory import HostNode, load_inventory

CRMDR = [sys.executable, "-m", "crmdr"]
S3CP = [sys.executable, "-m", "benchmarks._s3cp"]
TAR_CODEC = {"none": [], "lz4": ["--use-compress-program=lz4"], "zstd": ["--zstd"]}
GB = 1e9


def as_user(command: list[str]) -> list[str]:
    user = service_user()
    return ["runuser", "-u", user, "--", *command] if user else command


class Raw:
    """The same jobs done with the raw tools."""

    def __init__(self, inventory_file: Path, work: Path) -> None:
        inventory = load_inventory(inventory_file)
        assert isinstance(inventory.database.primary, HostNode)
        assert isinstance(inventory.database.standby, HostNode)
        self.node, self.inventory, self.file, self.work = inventory.database.primary, inventory, inventory_file, work
        self.standby = inventory.database.standby
        ref = inventory.database.replication_password or inventory.database.password
        self.password = resolve_secret(ref, inventory) if ref else ""
        db_ref = inventory.database.password
        self.db_password = resolve_secret(db_ref, inventory) if db_ref else ""

    def bin(self, name: str) -> str:
        return str(Path(self.node.bin_dir) / name)

    def key(self, compression: Compression) -> str:
        return f"bench/raw/base.tar{SUFFIX[compression]}"

    def fresh(self, name: str) -> Path:
        path = self.work / name
        shutil.rmtree(path, ignore_errors=True)
        path.mkdir(mode=0o700)
        if user := service_user():
            shutil.chown(path, user, user)
        return path

    def backup_upload(self, compression: Compression, node: HostNode | None = None) -> None:
        node = node or self.node
        basebackup = [self.bin("pg_basebackup"), "-h", node.host, "-p", str(node.pg_port),
                      "-U", self.inventory.database.replication_user, "--no-password", "-D", "-",
                      "-F", "tar", "-X", "fetch", "-c", "fast", *compress_flags(compression)]
        pipeline = (f"set -o pipefail; {' '.join(basebackup)} | {' '.join(S3CP)} up {self.file} "
                    f"{self.key(compression)}")
        sh(["bash", "-c", pipeline], env={"PGPASSWORD": self.password})

    def download_hash(self, compression: Compression) -> Path:
        tar = self.work / "base.tar"
        sh([*S3CP, "down", str(self.file), self.key(compression), str(tar)])
        sh(["sha256sum", str(tar)])
        return tar

    def restore_start_count(self, compression: Compression) -> None:
        tar = self.download_hash(compression)
        data, sock = self.fresh("data"), self.fresh("sock")
        os.chmod(tar, 0o644)
        sh(as_user(["tar", "-x", *TAR_CODEC[compression], "-f", str(tar), "-C", str(data)]))
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


def ours_backup(inventory_file: Path, peaks: list[int], *args: str) -> dict[str, object]:
    """`backup run` under /usr/bin/time -v; its peak RSS (bytes) is appended to `peaks`."""
    report = Path(tempfile.mkstemp(prefix="crmdr-bench-rss-")[1])
    try:
        command = ["/usr/bin/time", "-v", "-o", str(report), *CRMDR, "backup", "run", "--kind", "physical",
                   *args, "--inventory", str(inventory_file), "--json"]
        point = dict(json.loads(sh(command)))
        kib = next(line.rsplit(":", 1)[1] for line in report.read_text().splitlines()
                   if "Maximum resident set size" in line)
        peaks.append(int(kib) * 1024)
        return point
    finally:
        report.unlink(missing_ok=True)


def one_round(inventory_file: Path, raw: Raw, times: dict[str, list[float]], stored: dict[str, int],
              peaks: list[int]) -> None:
    """Each of ours right before its raw counterpart."""
    points: dict[str, dict[str, object]] = {}
    for compression in COMPRESSIONS:
        times[compression].append(timed(lambda c=compression: points.__setitem__(
            c, ours_backup(inventory_file, peaks, "--compress", c))))
        times[f"raw_{compression}"].append(timed(partial(raw.backup_upload, compression)))
        stored[compression] = int(str(points[compression]["size"]))
    times["standby"].append(timed(partial(ours_backup, inventory_file, peaks, "--from", "standby")))
    times["raw_standby"].append(timed(partial(raw.backup_upload, DEFAULT, raw.standby)))
    raw.backup_upload(DEFAULT)  # the raw verify and restore read the default's bytes
    pid = str(points[DEFAULT]["id"])
    times["verify"].append(timed(partial(ours, inventory_file, "verify", "--id", pid)))
    times["raw_verify"].append(timed(partial(raw.download_hash, DEFAULT)))
    times["restore"].append(timed(partial(ours, inventory_file, "verify", "--id", pid, "--restore")))
    times["raw_restore"].append(timed(partial(raw.restore_start_count, DEFAULT)))


def measure(inventory_file: Path, repeat: int, size_gb: float) -> list[Row]:
    work = Path(tempfile.mkdtemp(prefix="crmdr-bench-", dir="/tmp"))
    work.chmod(0o755)
    raw = Raw(inventory_file, work)
    times: dict[str, list[float]] = {k: [] for k in (
        *COMPRESSIONS, *(f"raw_{c}" for c in COMPRESSIONS), "standby", "raw_standby",
        "verify", "raw_verify", "restore", "raw_restore")}
    stored: dict[str, int] = {}
    peaks: list[int] = []
    try:
        for _ in range(repeat):
            one_round(inventory_file, raw, times, stored, peaks)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    size = f"{size_gb:g} GB"
    rows = [row(f"backup run --compress {c} ({size}; {stored[c] / GB:.2f} GB stored)", times[c],
                f"pg_basebackup -Ft -X fetch {' '.join(compress_flags(c))} | S3 upload".replace("  ", " "),
                times[f"raw_{c}"], "ratio <= 1.05", 1.05) for c in COMPRESSIONS]
    rows.append(row(f"backup run --compress {DEFAULT} vs the uncompressed pipe ({size})", times[DEFAULT],
                    "pg_basebackup -Ft -X fetch | S3 upload", times["raw_none"], "ratio <= 1.05", 1.05))
    rows.append(row(f"backup run --from standby --compress {DEFAULT} ({size})", times["standby"],
                    f"pg_basebackup -h standby {' '.join(compress_flags(DEFAULT))} | S3 upload",
                    times["raw_standby"], "ratio <= 1.05", 1.05))
    rows.append(row(f"backup run peak RSS in MB, largest of {len(peaks)} runs ({size})", [max(peaks) / 2**20],
                    goal="< 100 MB", limit=99.999, on="median"))
    return [*rows,
            row(f"backup verify, {DEFAULT} point ({size})", times["verify"], "S3 download + sha256sum",
                times["raw_verify"], "ratio < 1.0", 0.999),
            row(f"backup verify --restore, {DEFAULT} point ({size})", times["restore"],
                f"S3 download + tar -x ({DEFAULT}) + pg_ctl start + count", times["raw_restore"],
                "ratio <= 1.05", 1.05)]


def run(argv: Sequence[str] | None = None) -> list[Row]:
    opts = options(__doc__.splitlines()[0], argv)
    with lab(1, opts.size_gb) as bench:
        return measure(bench.inventory_path, opts.repeat, opts.size_gb)


def main(argv: list[str] | None = None) -> int:
    print_rows(run(argv))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
