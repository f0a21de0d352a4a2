"""Runs recovery/backups/validation.py's SQL over a psycopg connection; returns digests and reasons."""

import threading
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager, nullcontext

import psycopg

from policies.errors import HostError
from recovery.adapters.postgres import one_row
from recovery.backups.validation import (
    AMCHECK_INDEXES_SQL,
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
    for name in INVARIANTS:
        count, why = _invariant(conn, name)
        if why:
            unchecked.append(why)
        else:
            counts[name] = count
    return counts, unchecked


def _invariant(conn: psycopg.Connection, name: str) -> tuple[int, str | None]:
    try:
        with conn.transaction():
            row = conn.execute(INVARIANTS[name]).fetchone()
    except psycopg.Error as err:
        return 0, f"CRM invariant '{name}' could not be checked: {err.diag.message_primary}"
    return (int(row[0]) if row else 0), None


Connections = Callable[[], AbstractContextManager[psycopg.Connection]]
Check = Callable[[psycopg.Connection], list[str]]
VALIDATION_WORKERS = 2  # the checks are scans: more connections than the server's cores only interleave


def _only(conn: psycopg.Connection) -> Connections:
    return lambda: nullcontext(conn)


def _digest_check(expected: dict[str, TableDigest], unstable: Collection[str]) -> Check:
    def check(conn: psycopg.Connection) -> list[str]:
        methods, impossible = recorded_methods(expected, conn.info.server_version, unhashable_columns(conn))
        comparable = {table: digest for table, digest in expected.items() if table not in impossible}
        actual = digests(conn, methods)  # every table in one snapshot
        return [*impossible.values(), *compare_digests(comparable, actual, [*unstable, *impossible])]
    return check


def _invariant_check(name: str) -> Check:
    def check(conn: psycopg.Connection) -> list[str]:
        count, why = _invariant(conn, name)
        return [why] if why else invariant_reasons({name: count})
    return check


def _index_check(oid: int) -> Check:
    def check(conn: psycopg.Connection) -> list[str]:
        try:
            with conn.transaction():
                conn.execute("SELECT bt_index_check(%s::oid, true)", (oid,)).fetchall()
        except psycopg.Error as err:
            return [f"amcheck failed: {err.diag.message_primary or err}"]
        return []
    return check


def _index_checks(conn: psycopg.Connection) -> list[Check] | list[str]:
    """One amcheck per public btree index, largest first; or why amcheck cannot run."""
    try:
        with conn.transaction():
            if not conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'amcheck'").fetchone():
                conn.execute("CREATE EXTENSION amcheck")
            oids = [int(row[0]) for row in conn.execute(AMCHECK_INDEXES_SQL).fetchall()]
    except psycopg.Error as err:
        return [f"amcheck failed: {err.diag.message_primary or err}"]
    return [_index_check(oid) for oid in oids]


def _spread(conns: Connections, checks: Sequence[Check], workers: int) -> list[list[str]]:
    """Each check's reasons, in the order given, the checks run on `workers` connections in that order."""
    results: list[list[str]] = [[] for _ in checks]
    pending, lock = iter(range(len(checks))), threading.Lock()

    def work() -> None:
        with conns() as conn:
            while True:
                with lock:
                    index = next(pending, None)
                if index is None:
                    return
                results[index] = checks[index](conn)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        for running in [pool.submit(work) for _ in range(max(1, min(workers, len(checks))))]:
            running.result()
    return results


def validate(conns: Connections | psycopg.Connection, expected: dict[str, TableDigest] | None = None,
             unstable: Collection[str] = (), workers: int = VALIDATION_WORKERS) -> list[str]:
    """Everything a restored or promoted CRM database must pass; the reasons it does not.

    The checks are independent scans (measured at 1 GB: digests 3.4 s, invariants 3.3 s, amcheck
    6.5 s, one after the other), so they run on `workers` connections, the longest first: the
    digests (all tables in one snapshot), then each index's amcheck, largest first, then each
    invariant. Reasons come in that order too. Given one connection, every check runs on it in
    turn (it sees its own open transaction's changes).
    """
    if isinstance(conns, psycopg.Connection):
        conns, workers = _only(conns), 1
    with conns() as conn:
        indexes = _index_checks(conn)
    checks: list[Check] = [_digest_check(expected, unstable)] if expected is not None else []
    checks += [check for check in indexes if callable(check)]
    checks += [_invariant_check(name) for name in INVARIANTS]
    found = [reason for reasons in _spread(conns, checks, workers) for reason in reasons]
    return found + [why for why in indexes if isinstance(why, str)]
