"""`backup run`: stream a recovery point of the CRM database into the DR-region bucket.

Physical: pg_basebackup (tar, WAL fetched, PostgreSQL's backup_manifest inside) runs on the
tool host against the primary's pg_port (or, `--from standby`, the standby's: the primary then
pays nothing, as with pgBackRest's backup-standby) as the replication user, compressing (zstd,
lz4 or none) itself, and its stdout is uploaded as it is produced. Logical: pg_dump -Fc of a
snapshot exported by a transaction that also takes the table digests, so the digests describe
exactly what was dumped; its stream is compressed here (PostgreSQL 15's pg_dump has only gzip).
For a physical point, digests are taken before the backup starts and after it stops: a table
whose digest is the same both times held that content at the stop point, so it is recorded; a
table written during the backup is listed in `tables_unstable` and left to the invariants and
amcheck (never a false alarm, never a silent pass).
"""

import logging
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from importlib.metadata import version
from typing import Literal, get_args

from policies.errors import CloudError, ConfigError, HostError, Refused
from policies.sla import Tier
from recovery.adapters import pg_tools
from recovery.adapters.clock import SystemClock
from recovery.adapters.fault_hooks import PausedReader, pause
from recovery.adapters.pg_validation import current_lsn, digests, digests_in_background, digests_spread
from recovery.adapters.postgres import connect, one_row
from recovery.adapters.secrets import optional_secret
from recovery.backups.compression import DEFAULT, SUFFIX, Compression, compressing
from recovery.backups.manifest import (
    ClusterIdentity,
    Kind,
    ObjectEntry,
    RecoveryPoint,
    manifest_key,
    point_id,
    point_prefix,
    seal,
    to_bytes,
)
from recovery.backups.validation import TableDigest
from recovery.inventory import HostNode, Inventory, SecretRef
from recovery.ports import Clock, ObjectStore, Readable

log = logging.getLogger(__name__)

CLUSTER_KEY = "cluster.json"
Progress = Callable[[int], None]
Role = Literal["primary", "standby"]
ROLES: tuple[Role, ...] = get_args(Role)


@dataclass(frozen=True)
class Source:
    """Where and as whom the backup connects (resolved from the inventory)."""

    role: Role
    node: HostNode
    dbname: str
    user: str
    password: str | None
    replication_user: str
    replication_password: str | None


def source(inventory: Inventory, role: Role = "primary") -> Source:
    """The node of `role` (a standby serves base backups and digests read-only, PostgreSQL 15)."""
    db = inventory.database
    if role not in ROLES:
        raise ConfigError(f"--from must be primary or standby, got '{role}'")
    node = db.primary if role == "primary" else db.standby
    if not isinstance(node, HostNode):
        raise ConfigError(f"inventory database.{role} is an RDS instance: use the RDS snapshot path")

    def secret(ref: SecretRef | None) -> str | None:
        return optional_secret(ref, inventory)

    return Source(role, node, db.name, db.user, secret(db.password), db.replication_user,
                  secret(db.replication_password) or secret(db.password))


def _connect(src: Source, autocommit: bool = True):  # type: ignore[no-untyped-def]
    return connect(src.node.host, src.node.pg_port, user=src.user, password=src.password,
                   dbname=src.dbname, autocommit=autocommit)


@contextmanager
def _step(src: Source, step: str) -> Iterator[None]:
    """A host failure names the node and the step, so the operator knows where it broke."""
    try:
        yield
    except HostError as err:
        node = src.node
        raise HostError(f"backup step '{step}' on {node.name} ({node.host}:{node.pg_port}) failed: {err}") from None


def estimate(src: Source, kind: Kind) -> int:
    """Bytes the stream will roughly carry (uncompressed), for the progress bar and the part size."""
    query = ("SELECT sum(pg_database_size(datname))::bigint FROM pg_database" if kind == "physical"
             else "SELECT pg_database_size(current_database())")
    with _connect(src) as conn:
        row = conn.execute(query).fetchone()
    return int(row[0] or 0) if row else 0


def ensure_cluster(store: ObjectStore, identity: ClusterIdentity) -> None:
    """The bucket belongs to one cluster and one major version (like a pgBackRest stanza)."""
    known = store.head(CLUSTER_KEY)
    if known is None:
        store.put_bytes(CLUSTER_KEY, identity.model_dump_json().encode())
        return
    recorded = ClusterIdentity.model_validate_json(store.get_bytes(CLUSTER_KEY))
    if (recorded.system_identifier, recorded.major) != (identity.system_identifier, identity.major):
        raise Refused(
            f"the bucket holds backups of cluster {recorded.system_identifier} (PostgreSQL "
            f"{recorded.major}) but the primary is {identity.system_identifier} (PostgreSQL "
            f"{identity.major}); refusing to mix them")


class _AtEnd:
    """Calls `then` once, right after the last byte was read (the producer exited cleanly)."""

    def __init__(self, source: Readable, then: Callable[[], None]) -> None:
        self._source, self._then, self._fired = source, then, False

    def read(self, size: int = -1) -> bytes:
        data = self._source.read(size)
        if not data and size != 0 and not self._fired:
            self._fired = True
            self._then()
        return data


def _after_stop(src: Source) -> tuple[str, dict[str, TableDigest]]:
    """Each table's digest after the stop point, and the WAL position they were taken from."""
    with _connect(src) as conn:
        at_lsn = current_lsn(conn)
    return at_lsn, digests_spread(lambda: _connect(src))


def _physical(src: Source, store: ObjectStore, pid: str, until: datetime, progress: Progress | None,
              compression: Compression) -> tuple[list[ObjectEntry], dict[str, object]]:
    """The 'after' digests start once pg_basebackup has exited, while the last parts upload."""
    key = f"{point_prefix(pid)}base.tar{SUFFIX[compression]}"
    command = pg_tools.basebackup_command(src.node.bin_dir, src.node.host, src.node.pg_port,
                                          src.replication_user, compression)
    with ThreadPoolExecutor(max_workers=1) as pool:
        after: list[Future[tuple[str, dict[str, TableDigest]]]] = []
        with _step(src, "stream pg_basebackup"), _connect(src) as conn, \
                digests_in_background(conn) as pending, \
                pg_tools.stream(command, what="pg_basebackup", password=src.replication_password) as out:
            reader = _AtEnd(PausedReader(out, "backup-stream"), lambda: after.append(pool.submit(_after_stop, src)))
            stored = store.upload_stream(key, reader, retain_until=until, on_progress=progress,
                                         size_hint=estimate(src, "physical"))
            start, stop, timeline = pg_tools.backup_lsns(out.finish())
            before = pending.result()
        with _step(src, "digest tables after the backup"):
            at_lsn, digests_after = after[0].result() if after else _after_stop(src)
    stable = {name: digest for name, digest in digests_after.items() if before.get(name) == digest}
    return [ObjectEntry(key=key, size=stored.size, sha256=str(stored.sha256))], {
        "start_lsn": start, "stop_lsn": stop, "timeline": timeline, "tables": stable,
        "tables_at_lsn": at_lsn, "tables_unstable": sorted(set(digests_after) - set(stable))}


def _logical(src: Source, store: ObjectStore, pid: str, until: datetime, progress: Progress | None,
             compression: Compression) -> tuple[list[ObjectEntry], dict[str, object]]:
    """pg_dump's own zlib is turned off when the stream is compressed (bytes compressed once)."""
    key = f"{point_prefix(pid)}crm.dump{SUFFIX[compression]}"
    with _step(src, "stream pg_dump"), _connect(src, autocommit=False) as conn:
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        row = conn.execute("SELECT pg_export_snapshot(), pg_current_wal_lsn()::text").fetchone()
        row = one_row(row, "snapshot export")
        snapshot, lsn = row
        tables = digests(conn)
        command = pg_tools.dump_command(src.node.bin_dir, src.node.host, src.node.pg_port, src.user,
                                        src.dbname, snapshot, own_compression=compression == "none")
        with pg_tools.stream(command, what="pg_dump", password=src.password) as out:
            stored = store.upload_stream(key, compressing(out, compression), retain_until=until,
                                         on_progress=progress, size_hint=estimate(src, "logical"))
        conn.rollback()
    return [ObjectEntry(key=key, size=stored.size, sha256=str(stored.sha256))], {
        "start_lsn": lsn, "stop_lsn": lsn, "tables": tables, "tables_at_lsn": lsn}


def run_backup(inventory: Inventory, tier: Tier, store: ObjectStore, kind: Kind, *,
               progress: Progress | None = None, clock: Clock | None = None,
               compression: Compression = DEFAULT, role: Role = "primary") -> RecoveryPoint:
    """Take one recovery point; the manifest is written last, so a point without one is incomplete."""
    if kind not in ("physical", "logical"):
        raise ConfigError(f"--kind must be physical or logical, got '{kind}'")
    clock = clock or SystemClock()
    src = source(inventory, role)
    with _connect(src) as conn:
        identity = pg_tools.cluster_identity(conn)
    ensure_cluster(store, identity)
    started = clock.now()
    pid, until = point_id(started, kind), started + tier.retention
    take = _physical if kind == "physical" else _logical
    objects, facts = take(src, store, pid, until, progress, compression)
    timeline = facts.pop("timeline", None) or identity.timeline
    point = seal(RecoveryPoint(
        id=pid, kind=kind, stack=inventory.stack, tool_version=version("crm-dr"), started_at=started,
        finished_at=clock.now(), cluster=identity.model_copy(update={"timeline": timeline}),
        objects=objects, kms_key_id=inventory.backup.kms_key_id, retain_until=until,
        compression=compression, taken_from=f"{src.node.name} ({role}, {src.node.host}:{src.node.pg_port})",
        **facts,
    ))
    pause("backup-manifest")
    try:
        store.put_bytes(manifest_key(pid), to_bytes(point), retain_until=until)
    except CloudError as err:
        raise CloudError(f"backup step 'write the manifest' of {pid} failed, so it is no recovery point (its "
                         f"data stays an orphan until pruned): {err}", retryable=err.retryable) from None
    log.info("recovery point %s stored (%d bytes)", pid, point.size)
    return point
