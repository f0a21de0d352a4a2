"""The lab's PostgreSQL servers: a primary and a streaming standby built from it.

Host-specific settings live in `crmdr_host.conf` (included by postgresql.conf), so a base
backup copies the shared settings and each host rewrites only its own file.
"""

import logging
import os
import subprocess
from pathlib import Path

from psycopg import sql

from drills.lab import network
from drills.lab.settings import LabPaths, LabSettings
from drills.lab.system import give_to_service_user, pg_bin_dir, pid_alive, read_pid, run_service, wait_port
from recovery.adapters.postgres import connect

log = logging.getLogger(__name__)

DB_NAME = "crm"
DB_USER = "crmdr"
REPLICATION_USER = "replicator"
HOST_CONF = "crmdr_host.conf"
BOOTSTRAP_LOCAL_COMMIT = "SET synchronous_commit = local"
"""With --sync the primary is built before its standby exists: bootstrap commits must not wait for it."""

SHARED_CONF = """
# --- crm-dr lab ---
include_if_exists = '{host_conf}'
unix_socket_directories = ''
wal_level = replica
wal_log_hints = on
wal_keep_size = '1GB'
max_wal_senders = 10
max_replication_slots = 10
hot_standby = on
hot_standby_feedback = on
archive_mode = on
archive_command = ''
synchronous_standby_names = '{sync_names}'
log_line_prefix = '%m [%p] %q%u@%d '
log_min_messages = warning
wal_sender_timeout = '10s'
wal_receiver_timeout = '10s'
"""
"""Timeouts of 10 s (60 s by default): a cut standby loses its primary, and shows it, within a test's patience."""

HBA = """
host all         all            127.0.0.0/8 scram-sha-256
host replication {replication}  127.0.0.0/8 scram-sha-256
"""


def host_conf(
    ip: str, port: int, *, primary_ip: str | None = None, node: str = "", passfile: Path | None = None
) -> str:
    """Listen address and port; for a standby, where to stream from."""
    lines = [f"listen_addresses = '{ip}'", f"port = {port}", f"cluster_name = '{node}'"]
    if primary_ip:
        lines.append(
            f"primary_conninfo = 'host={primary_ip} port={port} user={REPLICATION_USER} "
            f"passfile={passfile} application_name={node}'"
        )
    return "\n".join(lines) + "\n"


def write_service_file(path: Path, text: str, mode: int = 0o600) -> None:
    """Written with `mode` from the first byte: some of these files hold passwords."""
    with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode), "w") as out:
        out.write(text)
    path.chmod(mode)
    give_to_service_user(path)


def init_primary(paths: LabPaths, settings: LabSettings, bin_dir: Path, passwords: dict[str, str]) -> None:
    """initdb with data checksums and SCRAM; shared and host settings written."""
    host = paths.host("primary")
    host.mkdir(parents=True, exist_ok=True)
    give_to_service_user(host)
    pwfile = host / "initpw"
    write_service_file(pwfile, passwords["db"] + "\n")
    try:
        run_service(
            [str(bin_dir / "initdb"), "-D", str(paths.data_dir("primary")), "-U", DB_USER,
             f"--pwfile={pwfile}", "--auth=scram-sha-256", "--data-checksums", "-E", "UTF8",
             "--locale=C.UTF-8"],
            what="initdb of the primary",
        )
    finally:
        pwfile.unlink(missing_ok=True)
    data = paths.data_dir("primary")
    sync_names = "*" if settings.synchronous else ""
    with (data / "postgresql.conf").open("a") as conf:
        conf.write(SHARED_CONF.format(host_conf=HOST_CONF, sync_names=sync_names))
    (data / "pg_hba.conf").write_text(HBA.format(replication=REPLICATION_USER))
    write_service_file(data / HOST_CONF, host_conf(str(settings.primary_ip), settings.pg_port, node="primary"))


def clone_standby(paths: LabPaths, settings: LabSettings, bin_dir: Path) -> None:
    """pg_basebackup from the primary, then point the copy at it and mark it a standby."""
    host = paths.host("standby")
    host.mkdir(parents=True, exist_ok=True)
    give_to_service_user(host)
    passfile = host / "pgpass"
    data = paths.data_dir("standby")
    run_service(
        [str(bin_dir / "pg_basebackup"), "-h", str(settings.primary_ip), "-p", str(settings.pg_port),
         "-U", REPLICATION_USER, "-D", str(data), "-X", "stream", "-c", "fast", "--no-password",
         "-d", f"passfile={passfile}"],
        what="pg_basebackup of the standby",
    )
    write_service_file(
        data / HOST_CONF,
        host_conf(str(settings.standby_ip), settings.pg_port, primary_ip=str(settings.primary_ip),
                  node="standby", passfile=passfile),
    )
    write_service_file(data / "standby.signal", "")


def write_passfile(paths: LabPaths, password: str) -> None:
    """The standby's replication password, readable only by the service user."""
    host = paths.host("standby")
    host.mkdir(parents=True, exist_ok=True)
    give_to_service_user(host)
    write_service_file(host / "pgpass", f"*:*:*:{REPLICATION_USER}:{password}\n")


def start(paths: LabPaths, node: str, ip: str, port: int, bin_dir: Path) -> None:
    data = paths.data_dir(node)
    if pid_alive(postmaster_pid(paths, node)):
        return
    run_service(
        [str(bin_dir / "pg_ctl"), "start", "-D", str(data), "-l", str(paths.host(node) / "postgres.log"),
         "-w", "-t", "60"],
        what=f"starting PostgreSQL on {node}", netns=network.host_namespace(paths, node),
    )
    wait_port(ip, port, open_=True, timeout=30, what=f"PostgreSQL on {node}")


def stop(paths: LabPaths, node: str, bin_dir: Path, mode: str = "fast") -> None:
    data = paths.data_dir(node)
    if not pid_alive(postmaster_pid(paths, node)):
        return
    run_service([str(bin_dir / "pg_ctl"), "stop", "-D", str(data), "-m", mode, "-w", "-t", "60"],
                what=f"stopping PostgreSQL on {node}")


def postmaster_pid(paths: LabPaths, node: str) -> int | None:
    return read_pid(paths.data_dir(node) / "postmaster.pid")


def load_crm(settings: LabSettings, password: str) -> None:
    """Create the CRM database, its schema and deterministic data (once)."""
    ip, port = str(settings.primary_ip), settings.pg_port
    with connect(ip, port, user=DB_USER, password=password, dbname="postgres") as conn:
        conn.execute(BOOTSTRAP_LOCAL_COMMIT)
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DB_NAME,)).fetchone():
            create = sql.SQL("CREATE DATABASE {} OWNER {}")
            conn.execute(create.format(sql.Identifier(DB_NAME), sql.Identifier(DB_USER)))
    with connect(ip, port, user=DB_USER, password=password, dbname=DB_NAME, autocommit=False) as conn:
        conn.execute(BOOTSTRAP_LOCAL_COMMIT)
        conn.execute((Path(__file__).parent / "crm_schema.sql").read_text())
        conn.execute("CREATE EXTENSION IF NOT EXISTS amcheck")
        if conn.execute("SELECT count(*) FROM accounts").fetchone() == (0,):
            script = (Path(__file__).parent / "crm_data.sql").read_text()
            conn.execute(script % {"rows": settings.rows, "seed": _seed_fraction(settings.seed)})
        conn.commit()


def set_replication_password(settings: LabSettings, password: str, replication_password: str) -> None:
    """Create the replication role; the password goes as a literal with statement logging off."""
    with connect(str(settings.primary_ip), settings.pg_port, user=DB_USER, password=password,
                 dbname="postgres") as conn:
        conn.execute(BOOTSTRAP_LOCAL_COMMIT)
        if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (REPLICATION_USER,)).fetchone():
            conn.execute(sql.SQL("CREATE ROLE {} WITH REPLICATION LOGIN").format(sql.Identifier(REPLICATION_USER)))
        conn.execute("SET log_statement = 'none'")
        conn.execute(
            sql.SQL("ALTER ROLE {} PASSWORD {}").format(
                sql.Identifier(REPLICATION_USER), sql.Literal(replication_password)
            )
        )


def _seed_fraction(seed: int) -> float:
    """setseed() takes a value in [-1, 1]."""
    return (seed % 1_000_003) / 1_000_003



def wal_receiver(paths: LabPaths, node: str, ip: str, port: int, password: str) -> dict[str, str]:
    """pg_stat_wal_receiver as `node` sees it from its own host (its namespace): a cut spares that view."""
    query = "SELECT status, sender_host FROM pg_stat_wal_receiver"
    command = network.in_namespace(paths, node, [
        str(pg_bin_dir() / "psql"), "-X", "-A", "-t", "-F", " ", "-h", ip, "-p", str(port), "-U", DB_USER,
        "-d", "postgres", "-c", query])
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=10,
                              env={**os.environ, "PGPASSWORD": password, "PGCONNECT_TIMEOUT": "3"})
    except subprocess.TimeoutExpired:
        return {"status": "unknown", "error": "psql timed out"}
    if done.returncode != 0:
        return {"status": "unknown", "error": done.stderr.strip().splitlines()[-1] if done.stderr.strip() else ""}
    status, _, sender = done.stdout.strip().partition(" ")
    return {"status": status or "none", "sender": sender}
