"""PostgreSQL client tools run on the tool host, streamed: pg_basebackup, pg_dump, pg_controldata.

pg_basebackup and pg_dump run here, against the node's pg_port, and write to a pipe that is
uploaded as it is read, so no full local copy exists. Passwords go through PGPASSWORD in
the child's environment, never on a command line. A child that fails makes the reader
raise at end of stream, so the multipart upload is aborted instead of completing short.
"""

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, cast

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

from policies.errors import ConfigError, HostError
from recovery.adapters.postgres import LIVENESS, one_row
from recovery.backups.compression import ZSTD_LEVEL, Compression
from recovery.backups.manifest import ClusterIdentity

_START = re.compile(r"write-ahead log start point: ([0-9A-F]+/[0-9A-F]+) on timeline (\d+)")
_END = re.compile(r"write-ahead log end point: ([0-9A-F]+/[0-9A-F]+)")


def tool(name: str, bin_dir: str) -> str:
    """The node's bin_dir when it exists here, else PATH; ConfigError when neither has it."""
    candidate = Path(bin_dir) / name
    if candidate.is_file():
        return str(candidate)
    found = shutil.which(name)
    if found is None:
        raise ConfigError(f"{name} not found in {bin_dir} (database node bin_dir) nor on PATH")
    return found


class ProcessReader:
    """A child's stdout as a readable; at EOF a non-zero exit raises HostError."""

    def __init__(self, process: subprocess.Popen[bytes], what: str, stderr: IO[bytes]) -> None:
        self._process = process
        self._what = what
        self._stderr = stderr
        self._stdout = cast(IO[bytes], process.stdout)  # stdout=PIPE: never None

    def read(self, size: int = -1) -> bytes:
        data = self._stdout.read(size)
        if not data and size != 0:
            self.finish()
        return data

    def stderr_text(self) -> str:
        self._stderr.seek(0)
        return self._stderr.read().decode(errors="replace")

    def finish(self) -> str:
        """Wait for the child; its stderr, or HostError with its last line."""
        code = self._process.wait()
        text = self.stderr_text()
        if code != 0:
            last = (text.strip().splitlines() or [""])[-1]
            raise HostError(f"{self._what} exited {code}: {last}")
        return text


@contextmanager
def stream(command: Sequence[str], *, what: str, password: str | None) -> Iterator[ProcessReader]:
    """Run `command` with its stdout as a ProcessReader; the child is killed if left early."""
    env = {**os.environ, "PGCONNECT_TIMEOUT": "10"}
    if password:
        env["PGPASSWORD"] = password
    with tempfile.TemporaryFile() as stderr:
        process = subprocess.Popen(list(command), stdout=subprocess.PIPE, stderr=stderr,
                                   stdin=subprocess.DEVNULL, env=env)
        try:
            yield ProcessReader(process, what, stderr)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
            if process.stdout is not None:
                process.stdout.close()


def compress_flags(compression: Compression) -> list[str]:
    """pg_basebackup's own client-side compression for `compression` (also the benchmark's raw baseline)."""
    return {"none": [], "lz4": ["--compress=client-lz4"],
            "zstd": [f"--compress=client-zstd:level={ZSTD_LEVEL}"]}[compression]


def basebackup_command(bin_dir: str, host: str, port: int, user: str, compression: Compression = "none",
                       ) -> list[str]:
    """Tar to stdout (WAL fetched into the tar, backup_manifest injected), fast checkpoint,
    compressed by pg_basebackup itself on this host (its own process: a core of its own)."""
    return [tool("pg_basebackup", bin_dir), "-d", LIVENESS, "-h", host, "-p", str(port),
            "-U", user, "--no-password", "-D", "-", "-F", "tar", "-X", "fetch", "-c", "fast", "-v",
            "--manifest-checksums=CRC32C", *compress_flags(compression)]


def dump_command(bin_dir: str, host: str, port: int, user: str, dbname: str, snapshot: str, *,
                 own_compression: bool = True) -> list[str]:
    """Custom format; without `own_compression` pg_dump writes it uncompressed (-Z 0)."""
    return [tool("pg_dump", bin_dir), "-h", host, "-p", str(port), "-U", user, "--no-password",
            "-d", make_conninfo(LIVENESS, dbname=dbname), "-F", "custom", f"--snapshot={snapshot}",
            *([] if own_compression else ["-Z", "0"])]


def backup_lsns(stderr: str) -> tuple[str | None, str | None, int | None]:
    """Start LSN, stop LSN and timeline from pg_basebackup -v output."""
    start, end = _START.search(stderr), _END.search(stderr)
    return (start[1] if start else None, end[1] if end else None, int(start[2]) if start else None)


def set_archive_command(conn: psycopg.Connection, command: str) -> None:
    """ALTER SYSTEM + reload; refuses (ConfigError) when archive_mode is off (that needs a restart)."""
    mode = conn.execute("SHOW archive_mode").fetchone()
    if mode is None or mode[0] == "off":
        raise ConfigError("archive_mode is off; set it on and restart PostgreSQL "
                          "(not done by the toolkit: a restart is an outage)")
    conn.execute(sql.SQL("ALTER SYSTEM SET archive_command = {}").format(sql.Literal(command)))
    conn.execute("SELECT pg_reload_conf()")


def cluster_identity(conn: psycopg.Connection) -> ClusterIdentity:
    row = conn.execute(
        "SELECT (SELECT system_identifier::text FROM pg_control_system()), "
        "current_setting('server_version_num')::int, "
        "(SELECT timeline_id FROM pg_control_checkpoint())"
    ).fetchone()
    row = one_row(row, "cluster identity")
    return ClusterIdentity(system_identifier=row[0], pg_version=row[1], timeline=row[2])


def controldata_identity(bin_dir: str, data_dir: Path) -> tuple[str, int]:
    """System identifier and catalog major version of a data directory that is not running."""
    done = subprocess.run([tool("pg_controldata", bin_dir), str(data_dir)], capture_output=True,
                          text=True, env={**os.environ, "LC_ALL": "C"})
    if done.returncode != 0:
        raise HostError(f"pg_controldata {data_dir} failed: {done.stderr.strip()}")
    fields = dict(line.split(":", 1) for line in done.stdout.splitlines() if ":" in line)
    version = (data_dir / "PG_VERSION").read_text().strip()
    return fields["Database system identifier"].strip(), int(version)


def receivewal_command(bin_dir: str, host: str, port: int, user: str, directory: str, slot: str) -> list[str]:
    """Stream WAL into `directory` through a physical slot, fsyncing each write (--synchronous).

    --no-loop: it exits when the connection is lost, so the caller can look for the primary
    (after a failover it is another node) instead of retrying a dead one; the slot is made first
    (`create_slot_command`), so the primary keeps WAL the streamer has not received yet.
    """
    return [tool("pg_receivewal", bin_dir), "-d", LIVENESS, "-h", host, "-p", str(port), "-U", user,
            "--no-password", "-D", directory, "-S", slot, "--synchronous", "--no-loop"]


def create_slot_command(bin_dir: str, host: str, port: int, user: str, slot: str) -> list[str]:
    return [tool("pg_receivewal", bin_dir), "-d", LIVENESS, "-h", host, "-p", str(port), "-U", user,
            "--no-password", "-S", slot, "--create-slot", "--if-not-exists"]
