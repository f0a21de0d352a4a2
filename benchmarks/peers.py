"""Against the peers a user would pick instead, on the same database in the same run.

    .venv/bin/python -m benchmarks.peers [--size-gb 1] [--repeat 3]

pgBackRest (Debian's package, `make bench-setup`) on the benchmark lab's primary, repository
on local disk, compress-type none (the same bytes crmdr stores: an uncompressed tar) and lz4
(its fastest compressed setting): full backup, `verify`, restore + start + a count query;
against `crmdr backup run`, `backup verify` and `backup verify --restore` into the lab's
S3 stand-in. pgBackRest's WAL archive is switched on for it (archive-push); it needs a Unix
socket, so the primary gets one and is restarted once before anything is measured.
"""

import shutil
import sys
import tempfile
from collections.abc import Sequence
from functools import partial
from pathlib import Path

from psycopg import sql

from benchmarks._lab import BenchLab, lab, options, print_rows, sh, timed
from benchmarks.backup import ours
from benchmarks.table import Row, row
from drills.lab import postgres
from drills.lab.settings import LabPaths
from drills.lab.system import as_service_user, give_to_service_user
from recovery.adapters.postgres import connect
from recovery.adapters.secrets import resolve_secret
from recovery.inventory import HostNode

STANZA = "crm"
COMPRESS = {1: "none", 2: "lz4"}  # repo number -> the compress-type its backups use
CONF = """[global]
repo1-path={work}/repo1
repo1-retention-full=100
repo2-path={work}/repo2
repo2-retention-full=100
start-fast=y
process-max=2
log-level-console=warn
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


class PgBackRest:
    """One stanza on the lab primary, two repositories on local disk under `work`."""

    def __init__(self, bench: BenchLab, work: Path) -> None:
        node = bench.inventory.database.primary
        assert isinstance(node, HostNode)
        self.bench, self.node, self.work, self.sock = bench, node, work, work / "sock"
        db = bench.inventory.database
        self.env = {"PGPASSWORD": resolve_secret(db.password, bench.inventory) if db.password else ""}
        self.conf = work / "pgbackrest.conf"
        for path in (work, self.sock, work / "repo1", work / "repo2", work / "lock", work / "spool"):
            path.mkdir(exist_ok=True)
            give_to_service_user(path)
        self.conf.write_text(CONF.format(work=work, stanza=STANZA, data=node.data_dir, port=node.pg_port,
                                         sock=self.sock, user=db.user, dbname=db.name))
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
            sh([str(Path(self.node.bin_dir) / "psql"), "-h", str(self.sock), "-p", "5499", "-U", user,
                "-d", dbname, "-Atc", "SELECT count(*) FROM activities"], self.env)
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
    for repo, compress in COMPRESS.items():
        times[f"backup-{compress}"].append(timed(partial(
            tool, "backup", "--type=full", f"--repo={repo}", f"--compress-type={compress}")))
        times[f"verify-{compress}"].append(timed(partial(tool, "verify", f"--repo={repo}")))
        times[f"restore-{compress}"].append(timed(partial(tool.restore_start_count, repo, db.name, db.user)))


def measure(bench: BenchLab, repeat: int, size_gb: float) -> list[Row]:
    work = Path(tempfile.mkdtemp(prefix="crmdr-bench-pgbackrest-", dir="/tmp"))
    work.chmod(0o755)
    times: dict[str, list[float]] = {name: [] for name in (
        "run", "verify", "restore", *(f"{job}-{c}" for job in ("backup", "verify", "restore")
                                      for c in COMPRESS.values()))}
    try:
        tool = PgBackRest(bench, work)
        tool.install()
        for _ in range(repeat):
            one_round(bench, tool, times)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    size, rows = f"{size_gb:g} GB", []
    for ours_key, job, label in (("run", "backup", "full backup"), ("verify", "verify", "verify"),
                                 ("restore", "restore", "restore + start + count")):
        for compress in COMPRESS.values():
            rows.append(row(f"crmdr {ours_key} vs pgBackRest ({size})", times[ours_key],
                            f"pgBackRest {label}, local repo, {compress}", times[f"{job}-{compress}"],
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
