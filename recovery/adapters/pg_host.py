"""A self-managed PostgreSQL host: pg_ctl, pg_controldata, pg_rewind over SSH, role over SQL.

Host-specific settings follow the lab's convention, which is also the production one here:
`DATA_DIR/crmdr_host.conf` holds listen address, port, cluster_name and, on a standby,
primary_conninfo; `standby.signal` marks a standby; the passfile sits next to the data
directory (`DATA_DIR/../pgpass`) so base backups and rewinds never copy it.
"""

import re
import shlex
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import psycopg

from policies.errors import HostError
from recovery.adapters.postgres import LIVENESS, open_connection
from recovery.inventory import HostNode
from recovery.ports import HostRunner
from recovery.runbooks.decisions import Identity

HOST_CONF = "crmdr_host.conf"
PG_CTL_NOT_RUNNING = 3
STATUS_MARK = "crmdr-pg-ctl-status="
CONTROL_MARK = "--crmdr-controldata--"
REWIND_MARK = "crmdr-rewind-incomplete"
"""Next to the data directory while pg_rewind runs, holding the host's own settings file: a rewind cut
off half-way leaves data that only a fresh base backup repairs (PostgreSQL's pg_rewind docs), and a
settings file half-copied from the source, so the host's identity is read from the mark instead."""
SIGNAL_MARK = "crmdr-standby-signal="
UPSTREAM_TIMEOUTS = f"connect_timeout=10 {LIVENESS}"
"""pg_rewind and pg_basebackup give up on an upstream cut off, instead of waiting on TCP for minutes."""
SESSION_TCP_TIMEOUT_MS = 3000
"""A kept session's unanswered query fails as fast as a new connection's connect timeout (3 s)."""
RESET_WITHIN_SECONDS = 1.0
"""A kept session that broke this fast was closed by the server (a restart, a stop): asked once more on
a new connection. One that broke slower is a path gone dead: failed at once, not waited out twice."""
T = TypeVar("T")


class PgHost:
    """Operations on one database host; every command runs through the pinned-key runner."""

    def __init__(self, node: HostNode, runner: HostRunner, *, user: str, password: str | None,
                 replication_user: str, replication_password: str | None, dbname: str) -> None:
        self.node = node
        self.runner = runner
        self._user, self._password, self._dbname = user, password, dbname
        self._repl_user, self._repl_password = replication_user, replication_password
        self.data = shlex.quote(node.data_dir)
        self.bin = node.bin_dir.rstrip("/")
        parent = node.data_dir.rstrip("/").rsplit("/", 1)[0]
        self.passfile = f"{parent}/pgpass"
        self.logfile = f"{parent}/postgres.log"
        self.rewind_mark = shlex.quote(f"{parent}/{REWIND_MARK}")
        self.down: str | None = None
        """Why the host could not be reached when the runbook opened; set, every call fails fast."""
        self._sessions: dict[str, psycopg.Connection] = {}
        self._session_lock = threading.Lock()

    @property
    def name(self) -> str:
        return self.node.name

    def _reachable(self) -> None:
        if self.down:
            raise HostError(f"host {self.name} is unreachable ({self.down})")

    def sh(self, command: str, *, timeout: float = 60, check: bool = True) -> str:
        self._reachable()
        return self.runner.run(command, timeout=timeout, check=check).stdout

    def query(self, sql: str, params: tuple[Any, ...] = (), dbname: str = "postgres") -> tuple[Any, ...] | None:
        return self._in_session(dbname, lambda conn: conn.execute(sql, params).fetchone())

    def execute(self, *statements: str) -> None:
        """Statements without results (ALTER SYSTEM, pg_reload_conf), each in autocommit.

        The session is closed afterwards: a kept backend applies a reload only when its SIGHUP arrives,
        so the next question (is synchronous_standby_names empty now?) goes to a new one, which reads
        the configuration as it starts."""
        def run(conn: psycopg.Connection) -> None:
            for statement in statements:
                conn.execute(statement)
        try:
            self._in_session("postgres", run)
        finally:
            self.close()

    def _in_session(self, dbname: str, work: Callable[[psycopg.Connection], T]) -> T:
        """`work` on this host's kept session (autocommit; one per database, one caller at a time).

        A failover asks ~20 questions of its hosts; a new connection each (password exchange, backend
        start) cost 7-25 ms on its critical path. Errors are HostError naming the host, as before."""
        self._reachable()
        with self._session_lock:
            for _ in range(2):
                kept = dbname in self._sessions
                conn = self._session(dbname)
                began = time.monotonic()
                try:
                    return work(conn)
                except psycopg.Error as err:
                    if conn.broken:
                        self._sessions.pop(dbname, None)
                        conn.close()
                        if kept and time.monotonic() - began < RESET_WITHIN_SECONDS:
                            continue
                    message = err.diag.message_primary or type(err).__name__
                    raise HostError(f"PostgreSQL on {self.name}: {message}") from None
        raise HostError(f"PostgreSQL on {self.name}: the connection broke again as soon as it was made")

    def _session(self, dbname: str) -> psycopg.Connection:
        conn = self._sessions.get(dbname)
        if conn is None or conn.closed or conn.broken:
            conn = open_connection(self.node.host, self.node.pg_port, user=self._user, password=self._password,
                                   dbname=dbname, timeout=3, tcp_user_timeout=SESSION_TCP_TIMEOUT_MS)
            self._sessions[dbname] = conn
        return conn

    def close(self) -> None:
        """Close the kept sessions (the runner is closed by its owner)."""
        with self._session_lock:
            for conn in self._sessions.values():
                conn.close()
            self._sessions.clear()

    def running(self) -> bool:
        self._reachable()
        result = self.runner.run(f"{self.bin}/pg_ctl status -D {self.data}", timeout=30, check=False)
        if result.exit_code not in (0, PG_CTL_NOT_RUNNING):
            raise HostError(f"host {self.name}: pg_ctl status exited {result.exit_code}: {result.stderr.strip()}")
        return result.exit_code == 0

    def in_recovery(self) -> bool | None:
        """pg_is_in_recovery() over SQL; None when the server does not answer."""
        try:
            row = self.query("SELECT pg_is_in_recovery()")
        except HostError:
            return None
        return bool(row[0]) if row else None

    def controldata(self) -> dict[str, str]:
        return _controldata(self.sh(f"{self.bin}/pg_controldata -D {self.data}", timeout=30))

    def _own_settings(self) -> str:
        """Shell printing this host's settings: from REWIND_MARK while a rewind is unfinished."""
        return f"{{ cat {self.rewind_mark} || cat {self.data}/{HOST_CONF}; }} 2>/dev/null"

    def configured_name(self) -> str:
        return _cluster_name(self.sh(f"{self._own_settings()} || true", timeout=30))

    def identity(self) -> Identity:
        """Live identity for the blast-radius guard: configured name, running, role, system id.

        One SSH round trip (pg_ctl status, the host conf, pg_controldata) instead of three: it runs
        before every destructive step, so it is on the failover's critical path.
        """
        self._reachable()
        out = self.sh(f"{self.bin}/pg_ctl status -D {self.data} >/dev/null 2>&1; echo \"{STATUS_MARK}$?\"; "
                      f"{self._own_settings()}; echo {CONTROL_MARK}; "
                      f"{self.bin}/pg_controldata -D {self.data}", timeout=30)
        head, _, control = out.partition(CONTROL_MARK)
        found = re.search(rf"^{STATUS_MARK}(\d+)$", head, re.MULTILINE)
        status = int(found.group(1)) if found else -1
        if status not in (0, PG_CTL_NOT_RUNNING):
            raise HostError(f"host {self.name}: pg_ctl status exited {status}")
        running = status == 0
        return Identity(name=_cluster_name(head), running=running,
                        in_recovery=self.in_recovery() if running else None,
                        system_id=_controldata(control).get("Database system identifier"))

    def fence_state(self) -> tuple[bool, bool]:
        """(running, carries standby.signal) in one SSH round trip: the fence step asks it before and
        after it acts, on the failover's critical path (two commands each time before)."""
        self._reachable()
        out = self.sh(f"{self.bin}/pg_ctl status -D {self.data} >/dev/null 2>&1; echo \"{STATUS_MARK}$?\"; "
                      f"test -f {self.data}/standby.signal; echo \"{SIGNAL_MARK}$?\"", timeout=30)
        status, signal = (re.search(rf"^{mark}(\d+)$", out, re.MULTILINE) for mark in (STATUS_MARK, SIGNAL_MARK))
        code = int(status.group(1)) if status else -1
        if code not in (0, PG_CTL_NOT_RUNNING) or signal is None:
            raise HostError(f"host {self.name}: pg_ctl status exited {code}")
        return code == 0, signal.group(1) == "0"

    def upstream(self) -> str:
        """The host named in primary_conninfo, or '' when the host streams from nobody."""
        out = self.sh(f"grep -h '^primary_conninfo' {self.data}/{HOST_CONF} || true", timeout=30)
        for word in out.replace("'", " ").split():
            if word.startswith("host="):
                return word.removeprefix("host=")
        return ""

    def stop(self, mode: str) -> str:
        if not self.running():
            return "already stopped"
        self.sh(f"{self.bin}/pg_ctl stop -D {self.data} -m {shlex.quote(mode)} -w -t 60", timeout=90)
        return f"pg_ctl stop -m {mode}"

    def start(self) -> str:
        if self.running():
            return "already running"
        self.sh(f"{self.bin}/pg_ctl start -D {self.data} -l {shlex.quote(self.logfile)} -w -t 60", timeout=90)
        return "pg_ctl start"

    def promote(self, *, wait: bool = True) -> str:
        """`pg_ctl promote`; `wait=False` returns once signalled (pg_ctl's own wait sleeps 100 ms between
        looks, five times the ~20 ms a promotion takes): the caller then waits for the role itself."""
        self.sh(f"{self.bin}/pg_ctl promote -D {self.data} " + ("-w -t 60" if wait else "-W"), timeout=90)
        return "pg_ctl promote" + ("" if wait else " -W")

    def set_standby_signal(self, present: bool) -> None:
        command = f"touch {self.data}/standby.signal" if present else f"rm -f {self.data}/standby.signal"
        self.sh(command, timeout=30)

    def write_passfile(self) -> None:
        """The replication password for primary_conninfo (mode 0600); nothing else stays on disk."""
        self._write_passfile(self.passfile, self._repl_user, self._repl_password)

    def _write_passfile(self, path: str, user: str, password: str | None) -> None:
        line = shlex.quote(f"*:*:*:{user}:{password or ''}")
        self.sh(f"umask 077 && printf '%s\\n' {line} > {shlex.quote(path)}", timeout=30)

    def write_host_conf(self, upstream: HostNode | None) -> None:
        """This host's own settings; with `upstream`, stream from it."""
        lines = [f"listen_addresses = '{self.node.host}'", f"port = {self.node.pg_port}",
                 f"cluster_name = '{self.node.name}'"]
        if upstream is not None:
            lines.append(f"primary_conninfo = 'host={upstream.host} port={upstream.pg_port} "
                         f"user={self._repl_user} passfile={self.passfile} application_name={self.node.name}'")
        quoted = " ".join(shlex.quote(line) for line in lines)
        self.sh(f"printf '%s\\n' {quoted} > {self.data}/{HOST_CONF}", timeout=30)

    def rewind(self, source: HostNode) -> str:
        """pg_rewind from `source` (the node must be stopped); returns its last output line.

        The superuser password it needs sits in a passfile only while pg_rewind runs; REWIND_MARK
        stays behind when it does not finish.
        """
        passfile = f"{self.passfile}.rewind"
        self._write_passfile(passfile, self._user, self._password)
        conninfo = (f"host={source.host} port={source.pg_port} user={self._user} dbname=postgres "
                    f"passfile={passfile} {UPSTREAM_TIMEOUTS}")
        out = self.sh(f"trap {shlex.quote('rm -f ' + shlex.quote(passfile))} EXIT; "
                      f"cp {self.data}/{HOST_CONF} {self.rewind_mark} && "
                      f"{self.bin}/pg_rewind -D {self.data} --source-server={shlex.quote(conninfo)} 2>&1 && "
                      f"rm -f {self.rewind_mark}", timeout=1800)
        return out.strip().splitlines()[-1] if out.strip() else "pg_rewind done"

    def rewind_interrupted(self) -> bool:
        """An earlier pg_rewind did not finish: the data directory is neither the old one nor rewound."""
        self._reachable()
        return self.runner.run(f"test -e {self.rewind_mark}", timeout=30, check=False).ok

    def reclone(self, source: HostNode, stamp: str) -> str:
        """Fresh base backup from `source`; the old data directory is kept aside, not deleted, and put
        back when the copy fails (a resume then finds the host as it was)."""
        aside = shlex.quote(f"{self.node.data_dir.rstrip('/')}.before-{stamp}")
        self.sh(f"mv {self.data} {aside}", timeout=60)
        conninfo = f"passfile={self.passfile} {UPSTREAM_TIMEOUTS}"
        try:
            self.sh(f"{self.bin}/pg_basebackup -h {source.host} -p {source.pg_port} -U {self._repl_user} "
                    f"-D {self.data} -X stream -c fast --no-password -d {shlex.quote(conninfo)}", timeout=3600)
        except HostError as err:
            self.sh(f"rm -rf {self.data} && mv {aside} {self.data}", timeout=300)
            raise HostError(f"pg_basebackup from {source.name} failed, the previous data put back: {err}") from None
        self.sh(f"rm -f {self.rewind_mark}", timeout=30)
        return f"pg_basebackup from {source.name}; previous data kept in {aside}"

    def log_problems(self, lines: int = 40) -> list[str]:
        """The server's own FATAL/ERROR/PANIC lines among the last `lines` of its log, oldest first."""
        out = self.sh(f"tail -n {lines} {shlex.quote(self.logfile)} 2>/dev/null | "
                      "grep -E 'FATAL|ERROR|PANIC' || true", timeout=30)
        return [line.strip() for line in out.splitlines() if line.strip()]

    def replication(self) -> list[tuple[str, str, str]]:
        """(application_name, state, sync_state) of each standby this primary streams to."""
        rows = self._in_session("postgres", lambda conn: conn.execute(
            "SELECT application_name, state, coalesce(sync_state, '') FROM pg_stat_replication").fetchall())
        return [(str(a), str(b), str(c)) for a, b, c in rows]


def _controldata(out: str) -> dict[str, str]:
    pairs = (line.split(":", 1) for line in out.splitlines() if ":" in line)
    return {key.strip(): value.strip() for key, value in pairs}


def _cluster_name(conf: str) -> str:
    for line in conf.splitlines():
        key, _, value = line.partition("=")
        if key.strip() == "cluster_name":
            return value.strip().strip("'")
    return ""
