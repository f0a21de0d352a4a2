"""One health probe of the primary as a client finds it: resolve the name through DNS, TCP connect, `SELECT 1`.

The name is resolved as applications resolve it (recovery/adapters/dns_resolver.py: the
inventory's `dns.resolver`, answers kept for their TTL), never through the Route 53 API. The
TCP connect runs first with the probe's own timeout (libpq's connect_timeout cannot go below
2 s), so a crashed server (refused) or a silent one (timeout) fails the probe fast. Every error
becomes a failed result naming the stage (DNS or database) and the reason; the password never
appears in it. Alongside, the AWS API (Route 53, the control plane a failover needs) is read
every `CONTROL_PLANE_EVERY` seconds in a worker thread, and its last outcome is reported with
each probe: it never makes a probe fail or take longer than its timeout.

After a probe fails at the database, the standby is asked (SQL, within the probe's timeout) whether its
WAL receiver still streams: the second signal of recovery/watch/decide.py. Only a standby in recovery
that answers says anything; one that cannot be read, or whose receiver's state this role may not see,
is no evidence (None).
"""

import math
import socket
import time
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from datetime import UTC, datetime

import psycopg

from policies.errors import DrError
from recovery.adapters.dns_resolver import DnsResolver
from recovery.adapters.route53_dns import Route53Dns
from recovery.adapters.secrets import optional_secret
from recovery.inventory import HostNode, Inventory
from recovery.redact import error_line
from recovery.watch.decide import ProbeResult, Stage

CONTROL_PLANE_EVERY = 5.0
"""Seconds between reads of the Route 53 API (its account-wide limit is 5 requests per second)."""
CONTROL_PLANE_TIMEOUT = 2.0
"""One read, no retry, within this: a slow answer is not yet an unreachable API."""


class ControlPlaneCheck:
    """Reads the name's failover records through the Route 53 API in a worker thread; keeps the last outcome.

    A probe never waits for it beyond its own deadline (after the first read): while a read is
    still running, the last outcome stands, so the check can neither slow nor fail a probe.
    """

    def __init__(self, inventory: Inventory, timeout: float = CONTROL_PLANE_TIMEOUT,
                 every: float = CONTROL_PLANE_EVERY) -> None:
        self._dns = Route53Dns(inventory, probe_timeout=timeout)
        self._timeout, self._every = timeout, every
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="crmdr-control-plane")
        self._pending: Future[object] | None = None
        self._next = 0.0
        self._read_once = False
        self.error: str | None = None

    def start(self, now: float) -> None:
        """Begin a read when one is due and none is running."""
        if now >= self._next and (self._pending is None or self._pending.done()):
            self._next = now + self._every
            self._pending = self._pool.submit(self._dns.records)

    def outcome(self, deadline: float) -> str | None:
        """The last outcome (None: the API answered); the first read is waited for, later ones until `deadline`."""
        pending = self._pending
        if pending is None:
            return self.error
        wait = deadline - time.monotonic() if self._read_once else self._timeout + 0.5
        try:
            pending.result(timeout=max(0.0, wait))
        except FutureTimeout:
            if not self._read_once:  # nothing known yet: not answering in time is not "reachable"
                self.error, self._read_once = f"Route 53 API: no answer within {self._timeout:g}s", True
            return self.error
        except (DrError, OSError) as err:
            self.error = str(err)
        else:
            self.error = None
        self._pending, self._read_once = None, True
        return self.error


RECEIVER = ("SELECT pg_is_in_recovery(), (SELECT count(*) FROM pg_stat_wal_receiver), "
            "(SELECT status FROM pg_stat_wal_receiver LIMIT 1)")


def receiver_lost(in_recovery: bool, receivers: int, status: str | None) -> bool | None:
    """What pg_stat_wal_receiver says of the primary: lost (no receiver, or one not streaming), streaming
    (False), or nothing (None: the node is no standby, or its receiver's status is hidden from this role)."""
    if not in_recovery:
        return None
    if receivers == 0:
        return True
    return None if status is None else status != "streaming"


class StandbyReceiver:
    """Callable: asks the standby (a host node) whether its WAL receiver still streams from the primary."""

    def __init__(self, inventory: Inventory, timeout: float, password: str | None) -> None:
        node = inventory.database.standby
        self._where = (node.host, node.pg_port) if isinstance(node, HostNode) else None
        self._db, self._timeout, self._password = inventory.database, timeout, password

    def __call__(self) -> bool | None:
        if self._where is None:
            return None
        host, port = self._where
        milliseconds = max(1, int(self._timeout * 1000))
        try:
            with socket.create_connection((host, port), timeout=self._timeout):
                pass
            with psycopg.connect(host=host, port=port, user=self._db.user, password=self._password,
                                 dbname=self._db.name, autocommit=True, application_name="crmdr-watch",
                                 connect_timeout=max(2, math.ceil(self._timeout)),
                                 options=f"-c statement_timeout={milliseconds}",
                                 tcp_user_timeout=milliseconds) as conn:
                row = conn.execute(RECEIVER).fetchone()
        except (OSError, psycopg.Error):
            return None
        return None if row is None else receiver_lost(bool(row[0]), int(row[1]), row[2])


class PrimaryProbe:
    """Callable: each call is one probe through the database name."""

    def __init__(self, inventory: Inventory, timeout: float) -> None:
        db = inventory.database
        self._inventory = inventory
        self._timeout = timeout
        self._resolver = DnsResolver(inventory, timeout=timeout)
        self._control = ControlPlaneCheck(inventory)
        self._password = optional_secret(db.password, inventory)
        self._standby = StandbyReceiver(inventory, timeout, self._password)
        self._ports = {getattr(node, "host", None) or getattr(node, "endpoint", ""): node.pg_port
                       for node in db.nodes()}
        self._default_port = db.primary.pg_port

    def __call__(self) -> ProbeResult:
        at, mono = datetime.now(UTC), time.monotonic()
        self._control.start(mono)
        address: str | None = None
        stage: Stage = "dns"
        try:
            address = self._resolver.resolve()
            stage = "database"
            detail = self._select_one(address, self._ports.get(address, self._default_port))
        except (DrError, OSError, psycopg.Error) as err:
            lost = self._standby() if stage == "database" else None
            return ProbeResult(at, mono, False, address, self._reason(err), failed_at=stage,
                               control_plane=self._control.outcome(mono + self._timeout), standby_lost=lost)
        return ProbeResult(at, mono, True, address, f"SELECT 1 in {detail}",
                           control_plane=self._control.outcome(mono + self._timeout))

    def _select_one(self, address: str, port: int) -> str:
        began = time.monotonic()
        with socket.create_connection((address, port), timeout=self._timeout):
            pass
        db = self._inventory.database
        milliseconds = max(1, int(self._timeout * 1000))
        with psycopg.connect(host=address, port=port, user=db.user, password=self._password, dbname=db.name,
                             autocommit=True, application_name="crmdr-watch",
                             connect_timeout=max(2, math.ceil(self._timeout)),
                             options=f"-c statement_timeout={milliseconds}", tcp_user_timeout=milliseconds) as conn:
            conn.execute("SELECT 1").fetchone()
        return f"{(time.monotonic() - began) * 1000:.1f} ms"

    def _reason(self, err: BaseException) -> str:
        return error_line(err, [self._password])
