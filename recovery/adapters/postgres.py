"""psycopg connections to a database node, with errors translated to HostError."""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import psycopg

from policies.errors import HostError
from recovery.redact import error_line

Row = TypeVar("Row")

LIVENESS = "keepalives=1 keepalives_idle=5 keepalives_interval=2 keepalives_count=3 tcp_user_timeout=15000"
"""libpq settings that notice a peer cut off mid-session in about 11 s (idle or waiting for an
answer) instead of the kernel's ~15 minutes of retransmissions."""


def one_row(row: Row | None, what: str) -> Row:
    """The row a single-row query must return (an explicit check: `assert` vanishes under -O)."""
    if row is None:
        raise HostError(f"PostgreSQL returned no row for the {what}")
    return row


def open_connection(
    host: str, port: int, *, user: str, password: str | None, dbname: str, timeout: float = 5.0,
    autocommit: bool = True, **settings: Any,
) -> psycopg.Connection:
    """A connection with LIVENESS (`settings` override it); HostError without the password when it fails."""
    try:
        return psycopg.connect(
            LIVENESS, host=host, port=port, user=user, password=password, dbname=dbname,
            connect_timeout=max(1, int(timeout)), autocommit=autocommit,
            application_name="crmdr", **settings,
        )
    except psycopg.OperationalError as err:
        reason = error_line(err, [password])
        raise HostError(f"cannot connect to PostgreSQL on {host}:{port}: {reason}") from None


@contextmanager
def connect(
    host: str, port: int, *, user: str, password: str | None, dbname: str, timeout: float = 5.0,
    autocommit: bool = True,
) -> Iterator[psycopg.Connection]:
    """A short-lived connection; the password never appears in an error message."""
    conn = open_connection(host, port, user=user, password=password, dbname=dbname, timeout=timeout,
                           autocommit=autocommit)
    try:
        yield conn
    except psycopg.OperationalError as err:
        if not conn.broken:
            raise
        reason = error_line(err, [password])  # a cut or a dead server mid-use is a host failure, not a bug
        raise HostError(f"lost the connection to PostgreSQL on {host}:{port}: {reason}") from None
    finally:
        conn.close()
