"""Against the peers a user would pick instead, on the same database in the same run.

    .venv/bin/python -m benchmarks.peers [--size-gb 1] [--repeat 3]

pgBackRest (Debian's package, `make bench-setup`) on the benchmark lab's primary, three
repositories: local disk with compress-type none (the same bytes crmdr stores: an uncompressed
tar) and lz4 (its fastest compressed setting), and the lab's S3 stand-in behind stunnel4 (its
S3 client insists on TLS), uncompressed: full backup, `verify`, restore + start + a count query;
against `crmdr backup run`, `backup verify` and `backup verify --restore` into the lab's
S3 stand-in. pgBackRest's WAL archive is switched on for it (archive-push); it needs a Unix
socket, so the primary gets one and is restarted once before anything is measured.
"""

import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from urllib.parse import urlsplit

from psycopg import sql

from benchmarks._lab import BenchLab, lab, net, options, print_rows, sh, timed
from benchmarks.backup import ours
from benchmarks.table import Row, row
from drills.lab import postgres
from drills.lab.settings import LabPaths
from drills.lab.system import as_service_user, give_to_service_user, wait_port
from recovery.adapters.aws_session import client
from recovery.adapters.postgres import connect
from recovery.adapters.secrets import resolve_secret
from recovery.inventory import HostNode

STANZA = "crm"
BUCKET = "pgbackrest-bench"
REPOS = {1: ("local repo", "none"), 2: ("local repo", "lz4"), 3: ("S3 (moto behind stunnel)", "none")}
"""repo number -> where, and the compress-type its backups use"""
STANZA_TAIL = """log-level-console=warn
log-level-file=off
lock-path={work}/lock
spool-path={work}/spool

[{stanza}]
pg1-path={data}
pg1-port={port}
pg1-socket-path={sock}
pg1-user={user}
pg1-database={dbname}
"""
"""The end of every pgBackRest config here: logging, lock and spool under the work directory, the lab primary."""


def s3_repo(number: int) -> str:
    """pgBackRest's repository `number` on the S3 server at {tls_host}:{tls_port} (path style, the lab's keys,
    TLS not verified), as config-template lines."""
    settings = ("type=s3", "path=/pgbackrest", "s3-bucket={bucket}", "s3-endpoint={tls_host}",
                "storage-port={tls_port}", "storage-verify-tls=n", "s3-uri-style=path", "s3-region={region}",
                "s3-key=lab", "s3-key-secret=lab", "retention-full=100")
    return "".join(f"repo{number}-{setting}\n" for setting in settings)


CONF = ("[global]\nrepo1-path={work}/repo1\nrepo1-retention-full=100\nrepo2-path={work}/repo2\n"
        "repo2-retention-full=100\n" + s3_repo(3) + "start-fast=y\nprocess-max=2\n" + STANZA_TAIL)


class PgBackRest:
    """One stanza on the lab primary; its repositories as `template` says (CONF: two on local disk, one on S3)."""

    def __init__(self, bench: BenchLab, work: Path, tls: tuple[str, int] = ("127.0.0.1", 4443), *,
                 template: str = CONF, bucket: str = BUCKET) -> None:
        node = bench.inventory.database.primary
        assert isinstance(node, HostNode)
        self.bench, self.node, self.work, self.sock = bench, node, work, work / "sock"
        db = bench.inventory.database
        self.env = {"PGPASSWORD": resolve_secret(db.password, bench.inventory) if db.password else ""}
        self.conf = work / "pgbackrest.conf"
        for path in (work, self.sock, work / "repo1", work / "repo2", work / "lock", work / "spool"):
            path.mkdir(exist_ok=True)
            give_to_service_user(path)
        self.conf.write_text(template.format(work=work, stanza=STANZA, data=node.data_dir, port=node.pg_port,
                                             sock=self.sock, user=db.user, dbname=db.name, bucket=bucket,
                                             tls_host=tls[0], tls_port=tls[1], region=bench.inventory.backup.region))
        self.conf.chmod(0o644)

    def __call__(self, *args: str) -> str:
        return sh(as_service_user(["pgbackrest", f"--config={self.conf}", f"--stanza={STANZA}", *args]),
                  self.env)

    def install(self) -> None:
        """A Unix socket and archive-push on the primary (one restart), then stanza-create + check."""
        data, db = Path(self.node.data_dir), self.bench.inventory.database
        archive = f"pgbackrest --config={self.conf} --stanza={STANZA} archive-push %p"
        with connect(self.node.host, self.node.pg_port, user=db.user, password=self.env["PGPASSWORD"],
                     dbname=db.name) as conn:  # ALTER SYSTEM: postgresql.conf sets no socket after its include
            conn.execute(sql.SQL("ALTER SYSTEM SET unix_socket_directories = {}").format(sql.Literal(str(self.sock))))
            conn.execute(sql.SQL("ALTER SYSTEM SET archive_command = {}").format(sql.Literal(archive)))
        with (data / "pg_hba.conf").open("a") as hba:
            hba.write("local all all scram-sha-256\n")
        paths, bin_dir = LabPaths(self.bench.dir), Path(self.node.bin_dir)
        postgres.stop(paths, "primary", bin_dir)
        postgres.start(paths, "primary", self.node.host, self.node.pg_port, bin_dir)
        self("stanza-create")
        self("check")

    def uninstall(self) -> None:
        """Archive nowhere again before the TLS front goes: a shutdown waits for pending archive-push."""
        db = self.bench.inventory.database
        with connect(self.node.host, self.node.pg_port, user=db.user, password=self.env["PGPASSWORD"],
                     dbname=db.name) as conn:
            conn.execute("ALTER SYSTEM RESET archive_command")
            conn.execute("SELECT pg_reload_conf()")

    def restore_start_count(self, repo: int, dbname: str, user: str) -> None:
        target = self.work / "restored"
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(mode=0o700)
        give_to_service_user(target)
        self("restore", f"--repo={repo}", f"--pg1-path={target}")
        pg_ctl = str(Path(self.node.bin_dir) / "pg_ctl")
        log = self.work / "restored.log"
        sh(as_service_user([pg_ctl, "start", "-D", str(target), "-w", "-t", "120", "-l", str(log), "-o",
                            f"-c listen_addresses='' -c unix_socket_directories='{self.sock}' -c port=5499 "
                            "-c archive_mode=off -c primary_conninfo='' -c synchronous_standby_names=''"]))
        try:
            query = [str(Path(self.node.bin_dir) / "psql"), "-h", str(self.sock), "-p", "5499", "-U", user,
                     "-d", dbname, "-Atc"]
            while sh([*query, "SELECT pg_is_in_recovery()"], self.env).strip() != "f":
                time.sleep(0.05)  # `pg_ctl -w` returns once it reads, in recovery: read-write is the promotion
            sh([*query, "SELECT count(*) FROM activities"], self.env)
        finally:
            sh(as_service_user([pg_ctl, "stop", "-D", str(target), "-m", "immediate", "-w"]))
            shutil.rmtree(target, ignore_errors=True)


def one_round(bench: BenchLab, tool: PgBackRest, times: dict[str, list[float]]) -> None:
    """crmdr's three jobs, then pgBackRest's for each repository, on the same database."""
    db = bench.inventory.database
    point: dict[str, object] = {}
    times["run"].append(timed(lambda: point.update(ours(bench.inventory_path, "run", "--kind", "physical"))))
    pid = str(point["id"])
    times["verify"].append(timed(partial(ours, bench.inventory_path, "verify", "--id", pid)))
    times["restore"].append(timed(partial(ours, bench.inventory_path, "verify", "--id", pid, "--restore")))
    for repo, (_, compress) in REPOS.items():
        times[f"backup-{repo}"].append(timed(partial(
            tool, "backup", "--type=full", f"--repo={repo}", f"--compress-type={compress}")))
        times[f"verify-{repo}"].append(timed(partial(tool, "verify", f"--repo={repo}")))
        times[f"restore-{repo}"].append(timed(partial(tool.restore_start_count, repo, db.name, db.user)))


def stunnel(bench: BenchLab, work: Path) -> tuple[subprocess.Popen[bytes], tuple[str, int]]:
    """TLS in front of the lab's moto (pgBackRest's S3 client speaks only HTTPS), and its bucket."""
    endpoint = urlsplit(str(bench.inventory.aws.endpoint_url))
    accept = (f"127.0.{net()}.35", 4443)
    sh(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=s3.lab", "-days", "1",
        "-keyout", str(work / "tls.key"), "-out", str(work / "tls.crt")])
    (work / "stunnel.conf").write_text(
        f"foreground = yes\npid =\n[s3]\naccept = {accept[0]}:{accept[1]}\n"
        f"connect = {endpoint.hostname}:{endpoint.port}\ncert = {work}/tls.crt\nkey = {work}/tls.key\n")
    process = subprocess.Popen(["stunnel4", str(work / "stunnel.conf")], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    wait_port(*accept, open_=True, timeout=10, what="stunnel")
    region = bench.inventory.backup.region
    client(bench.inventory.aws, "s3", region).create_bucket(
        Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": region})
    return process, accept


def measure(bench: BenchLab, repeat: int, size_gb: float) -> list[Row]:
    work = Path(tempfile.mkdtemp(prefix="crmdr-bench-pgbackrest-", dir="/tmp"))
    work.chmod(0o755)
    times: dict[str, list[float]] = {name: [] for name in (
        "run", "verify", "restore", *(f"{job}-{repo}" for job in ("backup", "verify", "restore") for repo in REPOS))}
    tls: subprocess.Popen[bytes] | None = None
    tool: PgBackRest | None = None
    try:
        tls, accept = stunnel(bench, work)
        tool = PgBackRest(bench, work, accept)
        tool.install()
        for _ in range(repeat):
            one_round(bench, tool, times)
    finally:
        if tool is not None:
            tool.uninstall()
        if tls is not None:
            tls.terminate()
            tls.wait()
        shutil.rmtree(work, ignore_errors=True)
    size, rows = f"{size_gb:g} GB", []
    for ours_key, job, label in (("run", "backup", "full backup"), ("verify", "verify", "verify"),
                                 ("restore", "restore", "restore + start + count")):
        for repo, (where, compress) in REPOS.items():
            rows.append(row(f"crmdr {ours_key} vs pgBackRest ({size})", times[ours_key],
                            f"pgBackRest {label}, {where}, {compress}", times[f"{job}-{repo}"],
                            "ratio < 1.0 (faster)", 0.999))
    return rows


def run(argv: Sequence[str] | None = None) -> list[Row]:
    opts = options(__doc__.splitlines()[0], argv)
    if shutil.which("pgbackrest") is None:
        raise SystemExit("pgbackrest is not installed: run `make bench-setup` (as root) first")
    with lab(3, opts.size_gb) as bench:
        return measure(bench, opts.repeat, opts.size_gb)


def main(argv: list[str] | None = None) -> int:
    print_rows(run(argv))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
