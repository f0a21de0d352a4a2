"""One health probe of the primary as a client finds it: resolve the DNS name, TCP connect, `SELECT 1`.

The TCP connect runs first with the probe's own timeout (libpq's connect_timeout cannot go
below 2 s), so a crashed server (refused) or a silent one (timeout) fails the probe fast.
Every error becomes a failed result naming the reason; the password never appears in it.
"""

import math
import socket
import time
from datetime import UTC, datetime

import psycopg

from policies.errors import DrError
from recovery.adapters.route53_dns import Route53Dns
from recovery.adapters.secrets import optional_secret
from recovery.inventory import Inventory
from recovery.redact import error_line
from recovery.watch.decide import ProbeResult


class PrimaryProbe:
    """Callable: each call is one probe through the database name."""

    def __init__(self, inventory: Inventory, timeout: float) -> None:
        db = inventory.database
        self._inventory = inventory
        self._timeout = timeout
        self._dns = Route53Dns(inventory)
        self._password = optional_secret(db.password, inventory)
        self._ports = {getattr(node, "host", None) or getattr(node, "endpoint", ""): node.pg_port
                       for node in db.nodes()}
        self._default_port = db.primary.pg_port

    def __call__(self) -> ProbeResult:
        at, mono = datetime.now(UTC), time.monotonic()
        address: str | None = None
        try:
            address = self._dns.resolve()
            detail = self._select_one(address, self._ports.get(address, self._default_port))
        except (DrError, OSError, psycopg.Error) as err:
            return ProbeResult(at, mono, False, address, self._reason(err))
        return ProbeResult(at, mono, True, address, f"SELECT 1 in {detail}")

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
