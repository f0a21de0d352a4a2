"""Runs recovery/backups/validation.py's SQL over a psycopg connection; returns digests and reasons."""

from collections.abc import Callable, Collection, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager

import psycopg

from policies.errors import HostError
from recovery.adapters.postgres import one_row
from recovery.backups.validation import (
    AMCHECK_SQL,
    INVARIANTS,
    LIST_TABLES_SQL,
    SESSION_SETTINGS,
    UNHASHABLE_COLUMNS_SQL,
    DigestMethod,
    TableDigest,
    compare_digests,
    digest_method,
    digest_sql,
    digest_tables,
    invariant_reasons,
    recorded_methods,
)


def prepare(conn: psycopg.Connection) -> None:
    """Session settings that make row text (and so checksums) independent of the server's."""
    for statement in SESSION_SETTINGS:
        conn.execute(statement)


def unhashable_columns(conn: psycopg.Connection) -> dict[str, list[str]]:
    """Per public table, its column types hash_record_extended cannot hash (one catalog query)."""
    return {str(name): list(types) for name, types in conn.execute(UNHASHABLE_COLUMNS_SQL).fetchall()}


def digests(conn: psycopg.Connection,
            methods: Mapping[str, DigestMethod] | None = None) -> dict[str, TableDigest]:
    """Count and checksum of every non-volatile public table, all in one snapshot.

    A table in `methods` is digested with that method, any other with the cheapest one its
    column types allow. Inside a caller's transaction (e.g. one that exported its snapshot to
    pg_dump) that transaction's snapshot is used; otherwise a read-only repeatable-read one is opened.
    """
    if conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE:
        with conn.transaction():
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            return _digests(conn, methods=methods)
    return _digests(conn, methods=methods)


def _digests(conn: psycopg.Connection, only: Collection[str] | None = None,
             methods: Mapping[str, DigestMethod] | None = None) -> dict[str, TableDigest]:
    prepare(conn)
    names = [row[0] for row in conn.execute(LIST_TABLES_SQL).fetchall()]
    unhashable = unhashable_columns(conn)
    found: dict[str, TableDigest] = {}
    for table in digest_tables(names):
        if only is not None and table not in only:
            continue
        method = (methods or {}).get(table) or digest_method(conn.info.server_version, unhashable.get(table, ()))
        row = conn.execute(digest_sql(table, method)).fetchone()
        row = one_row(row, f"digest of {table}")
        found[table] = TableDigest(rows=int(row[0]), checksum=str(row[1]), method=method)
    return found


@contextmanager
def digests_in_background(conn: psycopg.Connection) -> Iterator["Future[dict[str, TableDigest]]"]:
    """Pin a snapshot now and digest it in a thread while the caller goes on (one scan saved)."""
    with conn.transaction():
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        conn.execute("SELECT 1")  # the first query takes the transaction's snapshot
        with ThreadPoolExecutor(max_workers=1) as pool:
            yield pool.submit(_host_errors, conn)


def _host_errors(conn: psycopg.Connection, only: Collection[str] | None = None) -> dict[str, TableDigest]:
    """_digests with a lost connection as HostError (a network cut is not a bug)."""
    try:
        return _digests(conn, only)
    except psycopg.OperationalError as err:
        raise HostError(f"digest query on {conn.info.host} failed: {str(err).strip().splitlines()[0]}") from None


def digests_spread(open_conn: Callable[[], AbstractContextManager[psycopg.Connection]],
                   workers: int = 2) -> dict[str, TableDigest]:
    """Each table in its own connection and snapshot, `workers` at a time (not one snapshot)."""
    with open_conn() as conn:
        names = digest_tables([row[0] for row in conn.execute(LIST_TABLES_SQL).fetchall()])

    def share(index: int) -> dict[str, TableDigest]:
        with open_conn() as conn:
            return _host_errors(conn, names[index::workers])

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return {name: d for part in pool.map(share, range(workers)) for name, d in part.items()}


def current_lsn(conn: psycopg.Connection) -> str:
    """The WAL position this server's snapshots see: written on a primary, replayed on a standby."""
    row = conn.execute("SELECT (CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() "
                       "ELSE pg_current_wal_lsn() END)::text").fetchone()
    row = one_row(row, "current WAL position")
    return str(row[0])


def invariant_violations(conn: psycopg.Connection) -> tuple[dict[str, int], list[str]]:
    """Violations per invariant, and reasons for invariants that could not be checked."""
    counts: dict[str, int] = {}
    unchecked: list[str] = []
    for name, sql in INVARIANTS.items():
        try:
            with conn.transaction():
                row = conn.execute(sql).fetchone()
        except psycopg.Error as err:
            unchecked.append(f"CRM invariant '{name}' could not be checked: {err.diag.message_primary}")
            continue
        counts[name] = int(row[0]) if row else 0
    return counts, unchecked


def amcheck(conn: psycopg.Connection) -> list[str]:
    """Reasons from amcheck's bt_index_check over the public btree indexes (empty: all sound)."""
    try:
        with conn.transaction():
            if not conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'amcheck'").fetchone():
                conn.execute("CREATE EXTENSION amcheck")
            conn.execute(AMCHECK_SQL).fetchall()
    except psycopg.Error as err:
        return [f"amcheck failed: {err.diag.message_primary}"]
    return []


def validate(conn: psycopg.Connection, expected: dict[str, TableDigest] | None = None,
             unstable: Collection[str] = ()) -> list[str]:
    """Everything a restored or promoted CRM database must pass; the reasons it does not."""
    reasons: list[str] = []
    if expected is not None:
        methods, impossible = recorded_methods(expected, conn.info.server_version, unhashable_columns(conn))
        comparable = {table: digest for table, digest in expected.items() if table not in impossible}
        actual = digests(conn, methods)
        reasons += [*impossible.values(), *compare_digests(comparable, actual, [*unstable, *impossible])]
    counts, unchecked = invariant_violations(conn)
    reasons += unchecked + invariant_reasons(counts) + amcheck(conn)
    return reasons
