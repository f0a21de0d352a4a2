"""crmdr against pgBackRest and barman-cloud on one real S3 server (SeaweedFS over TLS), same run.

    .venv/bin/python -m benchmarks.s3peers [--size-gb 1] [--repeat 3] [--scale 30]   # BENCH_QUICK=1: 0.05 GB, -s 10

`make bench-setup` installs the peers: pgBackRest 2.45 (Debian) and barman-cloud (PyPI barman[cloud]).
The benchmark makes a self-signed certificate and starts `weed server -s3` with it on its own
address; each tool gets its own bucket on that one server:
- crmdr: `backup.endpoint_url` https, `backup.ca_bundle` the certificate, `backup.encryption:
  envelope` (SeaweedFS has no SSE-KMS; KMS stays on the lab's moto), its default zstd stream;
- pgBackRest: repo1-type=s3, compress-type=lz4, process-max=2, archive-async=y, TLS not verified
  (repo1-storage-verify-tls=n: its check of an IP-address certificate is not what is measured);
- barman-cloud: `--lz4`, `-J 2`, AWS_CA_BUNDLE the certificate; it has no verify command.
Per round, with each tool's own archive_command set before its backup: backup; verify (crmdr
reads and hashes every byte; pgBackRest `verify`); restore, replaying the archived WAL, until a
count query answers on a server out of recovery (read-write): `crmdr restore --target standby`
(fetch, SHA-256, pg_verifybackup, archive recovery, promotion; timed by a client polling the
standby, and to the command's end, which validates after), pgBackRest restore + start,
barman-cloud-restore + start with barman-cloud-wal-restore. Also crmdr's restore-test
(`backup verify --restore`: a scratch server, digests at the stop LSN, invariants, amcheck), which
the peers have no equivalent of: shown against their restore, not judged. WAL push: `pgbench -i -s
SCALE` with each tool's archive_command, timed until every filled segment is archived.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from benchmarks._lab import QUICK_GB, BenchLab, lab, net, print_rows, sh, timed
from benchmarks.backup import ours
from benchmarks.peers import STANZA, STANZA_TAIL, PgBackRest, s3_repo
from benchmarks.table import Row, row
from benchmarks.wal import Primary, push_round
from drills.lab.seaweed import LAB_KEYS, create_locked_bucket, start_seaweed
from drills.lab.system import as_service_user, give_to_service_user
from recovery.adapters.aws_session import client
from recovery.adapters.secrets import resolve_secret
from recovery.inventory import HostNode, Inventory

CRMDR_BUCKET, PGBACKREST_BUCKET, BARMAN_BUCKET = "crmdr-bench", "pgbackrest-bench", "barman-bench"
CONF = ("[global]\n" + s3_repo(1) + "compress-type=lz4\nstart-fast=y\nprocess-max=2\narchive-async=y\n"
        + STANZA_TAIL)


class BarmanCloud:
    """barman-cloud-backup / -restore / -wal-archive / -wal-restore against one bucket, as the PostgreSQL OS user."""

    def __init__(self, bench: BenchLab, work: Path, url: str, ca: Path) -> None:
        node = bench.inventory.database.primary
        assert isinstance(node, HostNode)
        self.node, self.db = node, bench.inventory.database
        self.work = work / "barman"  # the restore target and its log: the PostgreSQL OS user's
        self.work.mkdir(exist_ok=True)
        give_to_service_user(self.work)
        self.common = [f"--endpoint-url={url}", "--cloud-provider=aws-s3", f"s3://{BARMAN_BUCKET}/pg", STANZA]
        password = resolve_secret(self.db.password, bench.inventory) if self.db.password else ""
        self.env = {"AWS_CA_BUNDLE": str(ca), **LAB_KEYS, "PGPASSWORD": password}
        self.inline_env = " ".join(f"{k}={v}" for k, v in self.env.items() if k != "PGPASSWORD")

    def _bin(self, name: str) -> str:
        return str(Path(sys.executable).parent / name)

    def _command(self, name: str, *args: str) -> str:
        return f"env {self.inline_env} {self._bin(name)} {' '.join(self.common)} {' '.join(args)}"

    def archive_command(self) -> str:
        return self._command("barman-cloud-wal-archive", "%p")

    def backup(self) -> None:
        sh(as_service_user([self._bin("barman-cloud-backup"), "--lz4", "-J", "2", "--immediate-checkpoint",
                            "-h", self.node.host, "-p", str(self.node.pg_port), "-U", self.db.user,
                            "-d", self.db.name, *self.common]), self.env)

    def latest(self) -> str:
        listed = json.loads(sh([self._bin("barman-cloud-backup-list"), "--format=json", *self.common], self.env))
        return str(listed["backups_list"][-1]["backup_id"])

    def restore_start_count(self, backup_id: str, sock: Path) -> None:
        """Restore, start with barman-cloud-wal-restore as restore_command, wait until promoted, count."""
        target = self.work / "restored"
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(mode=0o700)
        give_to_service_user(target)
        sh(as_service_user([self._bin("barman-cloud-restore"), *self.common, backup_id, str(target)]), self.env)
        (target / "recovery.signal").touch()
        give_to_service_user(target / "recovery.signal")
        pg_ctl, psql = str(Path(self.node.bin_dir) / "pg_ctl"), str(Path(self.node.bin_dir) / "psql")
        restore = self._command("barman-cloud-wal-restore", "%f", "%p")
        sh(as_service_user([pg_ctl, "start", "-D", str(target), "-w", "-t", "300", "-l", str(self.work / "barman.log"),
                            "-o", f"-c listen_addresses='' -c unix_socket_directories='{sock}' -c port=5498 "
                            f"-c archive_mode=off -c primary_conninfo='' -c restore_command='{restore}'"]), self.env)
        try:
            query = [psql, "-h", str(sock), "-p", "5498", "-U", self.db.user, "-d", self.db.name, "-Atc"]
            while sh([*query, "SELECT pg_is_in_recovery()"], self.env).strip() != "f":
                time.sleep(0.05)
            sh([*query, "SELECT count(*) FROM activities"], self.env)
        finally:
            sh(as_service_user([pg_ctl, "stop", "-D", str(target), "-m", "immediate", "-w"]))
            shutil.rmtree(target, ignore_errors=True)


def certificate(work: Path, ip: str) -> tuple[Path, Path]:
    """A self-signed certificate for the server's address (CA and leaf in one), readable by the service user."""
    cert, key = work / "s3.crt", work / "s3.key"
    sh(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={ip}", "-days", "1",
        "-addext", f"subjectAltName=IP:{ip}", "-keyout", str(key), "-out", str(cert)])
    cert.chmod(0o644)
    return cert, key


def crmdr_inventory(bench: BenchLab, url: str, ca: Path) -> Path:
    """The lab's inventory with the bucket on SeaweedFS, envelope-encrypted under a single-region key
    (moto 5 cannot Decrypt under a multi-region key such as the lab's)."""
    region = bench.inventory.backup.region
    key_id = client(bench.inventory.aws, "kms", region).create_key()["KeyMetadata"]["KeyId"]
    data = json.loads(bench.inventory.to_json())
    data["backup"].update(bucket=CRMDR_BUCKET, endpoint_url=url, ca_bundle=str(ca), encryption="envelope",
                          kms_key_id=key_id)
    path = bench.dir / "inventory-s3peers.json"
    path.write_text(Inventory.model_validate(data).to_json())
    path.chmod(0o644)
    return path


class StandbyRestore:
    """`crmdr restore --target standby` onto the lab's standby, timed as a client feels it: until a
    count query answers on the standby with the server out of recovery (read-write). The command
    then validates (CRM invariants, amcheck) before it returns: timed separately."""

    def __init__(self, bench: BenchLab, inventory: Path) -> None:
        node = bench.inventory.database.standby
        assert isinstance(node, HostNode)
        self.node, self.db, self.inventory = node, bench.inventory.database, inventory
        self.journals = bench.dir / "journals"  # the benchmark's runs, never a developer's
        self.password = resolve_secret(self.db.password, bench.inventory) if self.db.password else ""

    def _read_write(self) -> bool:
        try:
            with psycopg.connect(host=self.node.host, port=self.node.pg_port, user=self.db.user,
                                 password=self.password, dbname=self.db.name, connect_timeout=2) as conn:
                row = conn.execute("SELECT NOT pg_is_in_recovery(), count(*) FROM activities").fetchone()
        except psycopg.Error:
            return False
        return bool(row and row[0])

    def __call__(self, point_id: str) -> tuple[float, float]:
        """Seconds until read-write and until the command ended; the standby is stopped again after
        (a restore never targets a running primary), its previous data removed."""
        with tempfile.TemporaryFile() as errors:
            began = time.monotonic()
            command = subprocess.Popen([*ours_cli(), "restore", "--id", point_id, "--target", "standby", "--yes",
                                        "--json", "--inventory", str(self.inventory),
                                        "--journal-dir", str(self.journals)],
                                       stdout=subprocess.DEVNULL, stderr=errors)
            reached = False
            while command.poll() is None and not (reached := self._read_write()):
                time.sleep(0.05)
            read_write = time.monotonic() - began
            code = command.wait()
            ended = time.monotonic() - began
            errors.seek(0)
            if code != 0 or not (reached or self._read_write()):
                raise SystemExit(f"crmdr restore exited {code}, standby read-write: {reached}: "
                                 f"{errors.read().decode(errors='replace').strip()[-400:]}")
        data = Path(self.node.data_dir)
        sh(as_service_user([str(Path(self.node.bin_dir) / "pg_ctl"), "stop", "-D", str(data), "-m", "fast", "-w"]))
        for aside in data.parent.glob(f"{data.name}.crmdr-before-restore-*"):
            shutil.rmtree(aside, ignore_errors=True)
        return read_write, ended


@contextmanager
def socket_left_out(primary: Primary, sock: Path) -> Iterator[None]:
    """pgBackRest's socket directory out of postgresql.auto.conf while crmdr's backup copies it, back
    after (the running primary keeps its socket: no restart). The lab's hosts share one file system
    and port, so a standby restored with the primary's socket setting would collide with it; real
    hosts do not share a socket directory."""
    with primary.connect() as conn:
        conn.execute("ALTER SYSTEM RESET unix_socket_directories")
    try:
        yield
    finally:
        with primary.connect() as conn:
            conn.execute(sql.SQL("ALTER SYSTEM SET unix_socket_directories = {}").format(sql.Literal(str(sock))))


def one_round(inventory: Path, primary: Primary, commands: dict[str, str], tool: PgBackRest, barman: BarmanCloud,
              standby: StandbyRestore, times: dict[str, list[float]]) -> None:
    """Each tool's backup, verify and restore in turn, each with its own archive_command."""
    primary.set_archive(commands["crmdr"])
    point: dict[str, object] = {}
    with socket_left_out(primary, tool.sock):
        times["crmdr backup"].append(timed(lambda: point.update(ours(inventory, "run", "--kind", "physical"))))
    times["crmdr verify"].append(timed(partial(ours, inventory, "verify", "--id", str(point["id"]))))
    read_write, ended = standby(str(point["id"]))
    times["crmdr restore"].append(read_write)
    times["crmdr restore command"].append(ended)
    times["crmdr restore-test"].append(timed(partial(ours, inventory, "verify", "--id", str(point["id"]),
                                                     "--restore")))
    primary.set_archive(commands["pgBackRest"])
    times["pgBackRest backup"].append(timed(partial(tool, "backup", "--type=full")))
    times["pgBackRest verify"].append(timed(partial(tool, "verify")))
    db = tool.bench.inventory.database
    times["pgBackRest restore"].append(timed(partial(tool.restore_start_count, 1, db.name, db.user)))
    primary.set_archive(commands["barman-cloud"])
    times["barman-cloud backup"].append(timed(barman.backup))
    backup_id = barman.latest()
    times["barman-cloud restore"].append(timed(partial(barman.restore_start_count, backup_id, tool.sock)))


def measure(bench: BenchLab, work: Path, repeat: int, scale: int, size: str) -> list[Row]:
    ip = f"127.0.{net()}.97"
    cert, key = certificate(work, ip)
    weed = start_seaweed(work / "weed", ip, 20000 + 40 * net() + 30, tls=(cert, key), volume_mb=1024)
    stops: list[Callable[[], None]] = [weed.stop]
    try:
        raw = _raw_client(weed.url, cert, bench.inventory.backup.region)
        create_locked_bucket(raw, CRMDR_BUCKET)
        for bucket in (PGBACKREST_BUCKET, BARMAN_BUCKET):
            raw.create_bucket(Bucket=bucket)
        inventory = crmdr_inventory(bench, weed.url, cert)
        sh([*ours_cli(), "backup", "wal", "install", "--inventory", str(inventory)])
        primary = Primary(bench.inventory, bench.inventory_path)
        tool = PgBackRest(bench, work / "pgbackrest", (ip, int(weed.url.rsplit(":", 1)[1])), template=CONF,
                          bucket=PGBACKREST_BUCKET)
        barman = BarmanCloud(bench, work, weed.url, cert)
        commands = {"crmdr": str(primary.sql("SHOW archive_command")[0]),
                    "pgBackRest": f"pgbackrest --config={tool.conf} --stanza={STANZA} archive-push %p",
                    "barman-cloud": barman.archive_command()}
        tool.install()  # sets pgBackRest's archive_command and restarts the primary once (a Unix socket)
        stops.insert(0, tool.uninstall)
        times: dict[str, list[float]] = {f"{t} {job}": [] for t in commands for job in ("backup", "verify", "restore")}
        times |= {"crmdr restore command": [], "crmdr restore-test": []}
        standby = StandbyRestore(bench, inventory)
        for _ in range(repeat):
            one_round(inventory, primary, commands, tool, barman, standby, times)
        pushed = {name: push_round(primary, scale, command) for name, command in commands.items()}
    finally:
        for stop in stops:
            stop()
    for name, found in pushed.items():
        print(f"   WAL push {name}: {found['segments']} segments in {found['seconds']:.2f} s "
              f"({found['mbs']:.0f} MB/s; pgbench wrote for {found['written']:.1f} s)", flush=True)
    return rows(times, pushed, size, scale)


def rows(times: dict[str, list[float]], pushed: dict[str, dict[str, Any]], size: str, scale: int) -> list[Row]:
    where = "SeaweedFS 4.48, TLS"
    found = []
    for job, label in (("backup", "full backup"), ("verify", "verify"), ("restore", "restore until read-write")):
        for peer, how in (("pgBackRest", "lz4, process-max=2"), ("barman-cloud", "lz4, -J 2")):
            if times[f"{peer} {job}"]:
                found.append(row(f"crmdr {job} vs {peer} on S3 ({where}, {size})", times[f"crmdr {job}"],
                                 f"{peer} {label} ({how})", times[f"{peer} {job}"], "ratio < 1.0 (faster)", 0.999))
    for ours_job, what in (("restore command", "crmdr restore to its end (validation after read-write)"),
                           ("restore-test", "crmdr restore-test (verify --restore: digests, invariants, amcheck)")):
        if times.get(f"crmdr {ours_job}") and times["pgBackRest restore"]:
            found.append(row(f"{what} on S3 ({where}, {size})", times[f"crmdr {ours_job}"],
                             "pgBackRest restore until read-write (does not validate)", times["pgBackRest restore"],
                             "shown, not judged"))
    for peer in ("pgBackRest", "barman-cloud"):
        ours_push, theirs = pushed["crmdr"], pushed[peer]
        found.append(row(f"crmdr WAL push vs {peer} on S3 ({where}), pgbench -i -s {scale}: {ours_push['segments']} "
                         f"segments", [ours_push["seconds"]],
                         f"{'pgBackRest archive-push (async)' if peer == 'pgBackRest' else 'barman-cloud-wal-archive'}"
                         f", {theirs['segments']} segments",
                         [theirs["seconds"]], "ratio < 1.0 (faster)", 0.999))
    return found


def _raw_client(url: str, ca: Path, region: str) -> Any:
    import boto3

    return boto3.client("s3", endpoint_url=url, region_name=region, verify=str(ca),
                        aws_access_key_id=LAB_KEYS["AWS_ACCESS_KEY_ID"],
                        aws_secret_access_key=LAB_KEYS["AWS_SECRET_ACCESS_KEY"])


def ours_cli() -> list[str]:
    return [sys.executable, "-m", "crmdr"]


def run(argv: Sequence[str] | None = None) -> list[Row]:
    quick = os.environ.get("BENCH_QUICK", "") not in ("", "0")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-gb", type=float, default=QUICK_GB if quick else 1.0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--scale", type=int, default=10 if quick else 30, help="pgbench -i scale for WAL push")
    opts = parser.parse_args(list(argv or []))
    for tool in ("pgbackrest", "barman-cloud-backup"):
        if shutil.which(tool) is None and not (Path(sys.executable).parent / tool).exists():
            raise SystemExit(f"{tool} is not installed: run `make bench-setup` (as root) first")
    with lab(8, opts.size_gb) as bench:
        work = Path(tempfile.mkdtemp(prefix="crmdr-bench-s3peers-", dir="/tmp"))
        work.chmod(0o755)
        try:
            return measure(bench, work, opts.repeat, opts.scale, f"{opts.size_gb:g} GB")
        finally:
            shutil.rmtree(work, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    print_rows(run(argv))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
