"""The write probe: heartbeat rows through the DNS name, as a CRM application would write them.

Background threads (`writers`, each with its own connection, like the members of an
application's pool) insert rows into `crmdr_probe` at a fixed total rate. Each (re)connect
re-resolves the database name through DNS (the inventory's `dns.resolver`, answers kept for
their TTL: recovery/adapters/dns_resolver.py), never through the Route 53 API, so the probe
follows the failover exactly when an application would. Every attempt lands in the ledger as acknowledged (the commit
returned), failed (never reached a server, or the server refused it) or unknown (sent, but
the connection broke before the answer: it may or may not have committed). The ledger is
what RTO and RPO are computed from (drills/failover/measure.py).
"""

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import psycopg

from drills.failover.measure import Outcome, Write
from recovery.adapters.dns_resolver import DnsResolver
from recovery.adapters.secrets import optional_secret
from recovery.inventory import Inventory
from recovery.redact import redact

log = logging.getLogger(__name__)

INSERT = "INSERT INTO crmdr_probe (id, writer, written_at, note) VALUES (%s, %s, now(), %s)"
ID_STRIDE = 1_000_000
"""Ids are `start_ms * ID_STRIDE + sequence`: unique per run, sortable, within bigint."""


@dataclass(frozen=True)
class ProbeSettings:
    """Short timeouts: an application pool gives up on a dead server in about a second."""

    rate: float = 50.0
    """Writes per second, all writers together."""
    writers: int = 1
    connect_timeout: float = 2.0
    statement_timeout_ms: int = 1000
    tcp_user_timeout_ms: int = 1000
    writer: str = "crmdr-probe"
    note: str = "heartbeat"


@dataclass
class _Channel:
    """One writer's connection and the address it was resolved to."""

    conn: psycopg.Connection | None = None
    address: str | None = None


class WriteProbe:
    """start() / stop() around a disruption; `ledger` is a snapshot of every attempt so far."""

    def __init__(self, inventory: Inventory, settings: ProbeSettings | None = None,
                 resolve: Callable[[], str] | None = None) -> None:
        self._inventory = inventory
        self.settings = settings or ProbeSettings()
        if self.settings.rate <= 0 or self.settings.writers < 1:
            raise ValueError("probe rate must be above zero, with at least one writer")
        self._resolve = resolve or DnsResolver(inventory, timeout=self.settings.connect_timeout).resolve
        db = inventory.database
        self._password = optional_secret(db.password, inventory)
        self._ports = {getattr(node, "host", None) or getattr(node, "endpoint", ""): node.pg_port
                       for node in db.nodes()}
        self._default_port = db.primary.pg_port
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._writes: list[Write] = []
        self._threads: list[threading.Thread] = []
        self._base = time.time_ns() // 1_000_000 * ID_STRIDE
        self._sequence = 0
        self.run_writer = f"{self.settings.writer}-{self._base // ID_STRIDE}"

    @property
    def ledger(self) -> tuple[Write, ...]:
        with self._lock:
            return tuple(self._writes)

    def start(self) -> None:
        if self._threads:
            raise RuntimeError("the probe is already running")
        self._threads = [threading.Thread(target=self._loop, name=f"crmdr-write-probe-{n}", daemon=True)
                         for n in range(self.settings.writers)]
        for thread in self._threads:
            thread.start()

    def stop(self) -> tuple[Write, ...]:
        """Stop writing and return the final ledger."""
        self._stop.set()
        for thread in self._threads:
            thread.join()
        return self.ledger

    def _loop(self) -> None:
        channel = _Channel()
        interval = self.settings.writers / self.settings.rate
        next_at = time.monotonic()
        while not self._stop.is_set():
            self._write_once(channel)
            next_at += interval
            delay = next_at - time.monotonic()
            if delay > 0:
                self._stop.wait(delay)
            else:
                next_at = time.monotonic()
        _close(channel)

    def _next_id(self) -> int:
        with self._lock:
            self._sequence += 1
            return self._base + self._sequence

    def _write_once(self, channel: _Channel) -> None:
        write_id = self._next_id()
        sent_wall, sent_mono = time.time(), time.monotonic()
        outcome, error = self._attempt(channel, write_id)
        done = Write(id=write_id, outcome=outcome, sent_wall=sent_wall, sent_mono=sent_mono,
                     done_mono=time.monotonic(), address=channel.address, error=error)
        with self._lock:
            self._writes.append(done)

    def _attempt(self, channel: _Channel, write_id: int) -> tuple[Outcome, str | None]:
        try:
            conn = self._connection(channel)
        except Exception as err:  # any failure to reach a server is a failed write
            _close(channel)
            return "failed", _reason(err, self._password)
        try:
            conn.execute(INSERT, (write_id, self.run_writer, self.settings.note))
        except psycopg.errors.QueryCanceled as err:
            _close(channel)
            return "unknown", _reason(err, self._password)
        except psycopg.DatabaseError as err:
            broken = conn.broken or conn.closed or isinstance(err, psycopg.OperationalError)
            _close(channel)
            return ("unknown" if broken else "failed"), _reason(err, self._password)
        return "acknowledged", None

    def _connection(self, channel: _Channel) -> psycopg.Connection:
        if channel.conn is not None and not channel.conn.closed:
            return channel.conn
        channel.address = self._resolve()
        s = self.settings
        channel.conn = psycopg.connect(
            host=channel.address, port=self._ports.get(channel.address, self._default_port),
            user=self._inventory.database.user, password=self._password,
            dbname=self._inventory.database.name, autocommit=True, application_name="crmdr-probe",
            connect_timeout=max(2, round(s.connect_timeout)),
            options=f"-c statement_timeout={s.statement_timeout_ms}",
            tcp_user_timeout=s.tcp_user_timeout_ms, keepalives=1, keepalives_idle=1,
            keepalives_interval=1, keepalives_count=1,
        )
        return channel.conn


def _close(channel: _Channel) -> None:
    conn, channel.conn = channel.conn, None
    if conn is not None:
        try:
            conn.close()
        except Exception:  # closing a dead connection may raise anything
            log.debug("closing the probe connection failed")


def _reason(err: BaseException, password: str | None) -> str:
    """One line of the error, with the password scrubbed (libpq may echo the conninfo)."""
    lines = str(err).strip().splitlines()
    text = f"{type(err).__name__}: {lines[-1] if lines else ''}".strip()
    return redact(text, [password])


def committed_ids(inventory: Inventory, writer: str, resolve: Callable[[], str] | None = None,
                  timeout: float = 5.0) -> frozenset[int]:
    """The probe ids the database holds now, read through the DNS name after recovery."""
    address = (resolve or DnsResolver(inventory, timeout=timeout).resolve)()
    db = inventory.database
    port = next((n.pg_port for n in db.nodes() if getattr(n, "host", None) == address), db.primary.pg_port)
    password = optional_secret(db.password, inventory)
    from recovery.adapters.postgres import connect

    with connect(address, port, user=db.user, password=password, dbname=db.name, timeout=timeout) as conn:
        rows = conn.execute("SELECT id FROM crmdr_probe WHERE writer = %s", (writer,)).fetchall()
    return frozenset(int(row[0]) for row in rows)
