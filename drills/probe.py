"""The write probe: heartbeat rows through the DNS name, as a CRM application would write them.

A background thread inserts rows into `crmdr_probe` at a fixed rate. Each (re)connect
re-resolves the database name through Route 53, so the probe follows the failover exactly
when an application would. Every attempt lands in the ledger as acknowledged (the commit
returned), failed (never reached a server, or the server refused it) or unknown (sent, but
the connection broke before the answer: it may or may not have committed). The ledger is
what RTO and RPO are computed from (drills/measure.py).
"""

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import psycopg

from drills.measure import Outcome, Write
from recovery.adapters.route53_dns import Route53Dns
from recovery.adapters.secrets import resolve_secret
from recovery.inventory import Inventory

log = logging.getLogger(__name__)

INSERT = "INSERT INTO crmdr_probe (id, writer, written_at, note) VALUES (%s, %s, now(), %s)"
ID_STRIDE = 1_000_000
"""Ids are `start_ms * ID_STRIDE + sequence`: unique per run, sortable, within bigint."""


@dataclass(frozen=True)
class ProbeSettings:
    """Short timeouts: an application pool gives up on a dead server in about a second."""

    rate: float = 50.0
    connect_timeout: float = 2.0
    statement_timeout_ms: int = 1000
    tcp_user_timeout_ms: int = 1000
    writer: str = "crmdr-probe"
    note: str = "heartbeat"


class WriteProbe:
    """start() / stop() around a disruption; `ledger` is a snapshot of every attempt so far."""

    def __init__(self, inventory: Inventory, settings: ProbeSettings | None = None,
                 resolve: Callable[[], str] | None = None) -> None:
        self._inventory = inventory
        self.settings = settings or ProbeSettings()
        if self.settings.rate <= 0:
            raise ValueError("probe rate must be above zero")
        self._resolve = resolve or Route53Dns(inventory).resolve
        db = inventory.database
        self._password = resolve_secret(db.password, inventory) if db.password else None
        self._ports = {getattr(node, "host", None) or getattr(node, "endpoint", ""): node.pg_port
                       for node in db.nodes()}
        self._default_port = db.primary.pg_port
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._writes: list[Write] = []
        self._thread: threading.Thread | None = None
        self._conn: psycopg.Connection | None = None
        self._address: str | None = None
        self._base = time.time_ns() // 1_000_000 * ID_STRIDE
        self._sequence = 0
        self.run_writer = f"{self.settings.writer}-{self._base // ID_STRIDE}"

    @property
    def ledger(self) -> tuple[Write, ...]:
        with self._lock:
            return tuple(self._writes)

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("the probe is already running")
        self._thread = threading.Thread(target=self._loop, name="crmdr-write-probe", daemon=True)
        self._thread.start()

    def stop(self) -> tuple[Write, ...]:
        """Stop writing and return the final ledger."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self._close()
        return self.ledger

    def _loop(self) -> None:
        interval = 1.0 / self.settings.rate
        next_at = time.monotonic()
        while not self._stop.is_set():
            self._write_once()
            next_at += interval
            delay = next_at - time.monotonic()
            if delay > 0:
                self._stop.wait(delay)
            else:
                next_at = time.monotonic()

    def _write_once(self) -> None:
        self._sequence += 1
        write_id = self._base + self._sequence
        sent_wall, sent_mono = time.time(), time.monotonic()
        outcome, error = self._attempt(write_id)
        done = Write(id=write_id, outcome=outcome, sent_wall=sent_wall, sent_mono=sent_mono,
                     done_mono=time.monotonic(), address=self._address, error=error)
        with self._lock:
            self._writes.append(done)

    def _attempt(self, write_id: int) -> tuple[Outcome, str | None]:
        try:
            conn = self._connection()
        except Exception as err:  # any failure to reach a server is a failed write
            self._close()
            return "failed", _reason(err, self._password)
        try:
            conn.execute(INSERT, (write_id, self.run_writer, self.settings.note))
        except psycopg.errors.QueryCanceled as err:
            self._close()
            return "unknown", _reason(err, self._password)
        except psycopg.DatabaseError as err:
            broken = conn.broken or conn.closed or isinstance(err, psycopg.OperationalError)
            self._close()
            return ("unknown" if broken else "failed"), _reason(err, self._password)
        return "acknowledged", None

    def _connection(self) -> psycopg.Connection:
        if self._conn is not None and not self._conn.closed:
            return self._conn
        self._address = self._resolve()
        s = self.settings
        self._conn = psycopg.connect(
            host=self._address, port=self._ports.get(self._address, self._default_port),
            user=self._inventory.database.user, password=self._password,
            dbname=self._inventory.database.name, autocommit=True, application_name="crmdr-probe",
            connect_timeout=max(2, round(s.connect_timeout)),
            options=f"-c statement_timeout={s.statement_timeout_ms}",
            tcp_user_timeout=s.tcp_user_timeout_ms, keepalives=1, keepalives_idle=1,
            keepalives_interval=1, keepalives_count=1,
        )
        return self._conn

    def _close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception:  # closing a dead connection may raise anything
                log.debug("closing the probe connection failed")


def _reason(err: BaseException, password: str | None) -> str:
    """One line of the error, with the password scrubbed (libpq may echo the conninfo)."""
    lines = str(err).strip().splitlines()
    text = f"{type(err).__name__}: {lines[-1] if lines else ''}".strip()
    return text.replace(password, "***") if password else text


def committed_ids(inventory: Inventory, writer: str, resolve: Callable[[], str] | None = None,
                  timeout: float = 5.0) -> frozenset[int]:
    """The probe ids the database holds now, read through the DNS name after recovery."""
    address = (resolve or Route53Dns(inventory).resolve)()
    db = inventory.database
    port = next((n.pg_port for n in db.nodes() if getattr(n, "host", None) == address), db.primary.pg_port)
    password = resolve_secret(db.password, inventory) if db.password else None
    from recovery.adapters.postgres import connect

    with connect(address, port, user=db.user, password=password, dbname=db.name, timeout=timeout) as conn:
        rows = conn.execute("SELECT id FROM crmdr_probe WHERE writer = %s", (writer,)).fetchall()
    return frozenset(int(row[0]) for row in rows)
