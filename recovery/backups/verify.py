"""`backup verify`: prove a recovery point by reading every byte it vouches for.

Integrity: the manifest's own SHA-256, its cluster against the bucket's `cluster.json`, every
object's presence, size and SHA-256 (streamed, never trusted from a listing), PostgreSQL's
backup_manifest through pg_verifybackup, and the archived WAL chain from the point onward.
With `restore`, the same single read also feeds an isolated scratch server that is started
and validated (digests, CRM invariants, amcheck), then removed. The verdict and its evidence
are stored next to the manifest, so `backup list` knows what is proven.
"""

import hashlib
import logging
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing

from policies.errors import CloudError, ConfigError, DrError, HostError, VerificationFailed
from recovery.adapters import pg_tools
from recovery.adapters.clock import SystemClock
from recovery.adapters.fault_hooks import pause
from recovery.adapters.pg_validation import validate
from recovery.adapters.scratch_pg import ISOLATION, Scratch, scratch
from recovery.backups.ahead import ahead
from recovery.backups.catalog import Catalog, PointStatus, strongest_proof
from recovery.backups.compression import Compression, expanded
from recovery.backups.manifest import (
    POINTS,
    RESTORE_SUFFIX,
    ClusterIdentity,
    ObjectEntry,
    RecoveryPoint,
    Verification,
    identity_reasons,
    manifest_key,
    parse_manifest,
    parse_verification,
    point_prefix,
    verification_key,
)
from recovery.backups.replay import restore_with_wal
from recovery.backups.take import CLUSTER_KEY
from recovery.inventory import HostNode, Inventory
from recovery.ports import Clock, ObjectNotFound, ObjectStore
from recovery.wal.segments import WAL, chain, segment_of, timeline_reasons

log = logging.getLogger(__name__)

Progress = Callable[[int], None]
FETCHERS = 16
EXPAND_PIECE = 1024 * 1024


def load_point(store: ObjectStore, pid: str) -> RecoveryPoint:
    key = manifest_key(pid)
    if store.head(key) is None:
        if not store.list(point_prefix(pid)):
            raise ConfigError(f"--id: no recovery point '{pid}' in the bucket (see `crmdr backup list`)")
        raise VerificationFailed(f"manifest {key} is missing: recovery point '{pid}' has objects but no manifest")
    return parse_manifest(store.get_bytes(key), key)


def object_problem(entry: ObjectEntry, size: int | None) -> str | None:
    """Why an object cannot match its manifest entry before reading it (None: worth reading)."""
    if size is None:
        return f"object {entry.key} is missing (the manifest lists {entry.size} bytes)"
    if size == 0 and entry.size:
        return f"object {entry.key} is empty (0 bytes, the manifest says {entry.size})"
    if size != entry.size:
        return f"object {entry.key} is {size} bytes, the manifest says {entry.size} (truncated or replaced)"
    return None


def stream_object(store: ObjectStore, entry: ObjectEntry, compression: Compression,
                  sink: Callable[[bytes | memoryview], object],
                  progress: Progress | None = None) -> tuple[str | None, int]:
    """Read the whole object, hashing the stored bytes, and feed them expanded into `sink`;
    a reason when its SHA-256, its length or its compressed stream is not the manifest's."""
    digest, read = hashlib.sha256(), 0
    pause("verify-open")

    def stored() -> Iterator[memoryview]:
        nonlocal read
        for chunk in store.iter_chunks(entry.key):
            digest.update(chunk)
            read += len(chunk)
            if progress:
                progress(len(chunk))
            pause("verify-stream")
            view = memoryview(chunk)  # expanded in pieces: one piece's output is a few MB, not 4x a chunk
            yield from (view[at:at + EXPAND_PIECE] for at in range(0, len(view), EXPAND_PIECE))

    # Reading (download, decryption, SHA-256), expanding and the sink each run in their own thread.
    stages = ahead(expanded(ahead(stored()), compression, entry.key))
    try:
        with closing(stages):
            for data in stages:
                sink(data)
    except VerificationFailed as err:
        return str(err), read
    if read != entry.size:
        return f"object {entry.key}: read {read} bytes, the manifest says {entry.size}", read
    if digest.hexdigest() != entry.sha256:
        return (f"object {entry.key} SHA-256 mismatch: content differs from the manifest "
                f"({digest.hexdigest()[:16]}... != {entry.sha256[:16]}...)"), read
    return None, read


def _extract(store: ObjectStore, entry: ObjectEntry, compression: Compression, box: Scratch,
             progress: Progress | None) -> tuple[str | None, int]:
    """Stream a tar object into the scratch data directory while hashing every byte of it."""
    result: tuple[str | None, int] = (None, 0)
    try:
        with box.feed(box.extract_command(), what="tar -x") as sink:
            result = stream_object(store, entry, compression, sink, progress)
    except HostError as err:
        if result[0] is None:
            return f"object {entry.key} is not a readable tar archive ({err})", result[1]
    return result


def _physical(store: ObjectStore, point: RecoveryPoint, box: Scratch, evidence: dict[str, object],
              progress: Progress | None) -> list[str]:
    reasons: list[str] = []
    for entry in point.objects:
        reason, read = _extract(store, entry, point.compression, box, progress)
        evidence.setdefault("bytes_read", {})[entry.key] = read  # type: ignore[index]
        if reason:
            reasons.append(reason)
    if reasons:
        return reasons
    code, output = box.probe([pg_tools.tool("pg_verifybackup", box.bin_dir), "-q", str(box.data)])
    evidence["pg_verifybackup"] = output or "backup successfully verified"
    if code != 0:
        return [f"pg_verifybackup rejects {point.objects[0].key}: {output}"]
    system_id, major = pg_tools.controldata_identity(box.bin_dir, box.data)
    if system_id != point.cluster.system_identifier or major != point.cluster.major:
        return [f"object {point.objects[0].key} holds cluster {system_id} (PostgreSQL {major}), "
                f"the manifest says {point.cluster.system_identifier} (PostgreSQL {point.cluster.major})"]
    return []


def _hash_only(store: ObjectStore, point: RecoveryPoint, evidence: dict[str, object],
               progress: Progress | None) -> list[str]:
    reasons = []
    for entry in point.objects:
        reason, read = stream_object(store, entry, point.compression, lambda chunk: None, progress)
        evidence.setdefault("bytes_read", {})[entry.key] = read  # type: ignore[index]
        if reason:
            reasons.append(reason)
    return reasons


def _restore_physical(inventory: Inventory, store: ObjectStore, point: RecoveryPoint, box: Scratch,
                      evidence: dict[str, object]) -> list[str]:
    """With archived WAL after the point, replay it too (recovery/backups/replay.py); else the base alone."""
    evidence["tables_unstable"] = point.tables_unstable
    names = [obj.key[len(WAL):] for obj in store.list(WAL)]
    if point.start_lsn and point.stop_lsn and names:
        found = chain(names, since=segment_of(point.start_lsn, point.cluster.timeline))
        stop = segment_of(point.stop_lsn, point.cluster.timeline)
        if found.last is not None and found.last.number > stop.number:
            return restore_with_wal(inventory, point, box, found, evidence)
    dbname = inventory.database.name
    started = time.monotonic()
    box.start()
    evidence["restore_seconds"] = round(time.monotonic() - started, 3)
    return validate(lambda: box.connect(dbname), point.tables or None, point.tables_unstable)


def _restore_logical(store: ObjectStore, point: RecoveryPoint, box: Scratch, dbname: str,
                     evidence: dict[str, object]) -> list[str]:
    started = time.monotonic()
    box.initdb()
    box.start()
    box.run([pg_tools.tool("createdb", box.bin_dir), "-h", str(box.socket_dir), "-p", "5432",
             "-U", box.user, dbname], what="createdb on the scratch server")
    entry = point.objects[0]
    with box.feed([pg_tools.tool("pg_restore", box.bin_dir), "-h", str(box.socket_dir), "-p", "5432",
                   "-U", box.user, "-d", dbname, "--exit-on-error", "--no-owner"],
                  what=f"pg_restore of {entry.key}") as sink:
        reason, _ = stream_object(store, entry, point.compression, sink)
    evidence["restore_seconds"] = round(time.monotonic() - started, 3)
    if reason:
        return [reason]
    return validate(lambda: box.connect(dbname), point.tables or None, point.tables_unstable)


def wal_reasons(store: ObjectStore, point: RecoveryPoint, evidence: dict[str, object]) -> list[str]:
    """Gaps in the archived WAL from the point's start segment (no archive: nothing to check)."""
    names = [obj.key[len(WAL):] for obj in store.list(WAL)]
    if not names or point.start_lsn is None or point.kind != "physical":
        evidence["wal"] = "no archived WAL" if not names else "not applicable"
        return []
    found = chain(names, since=segment_of(point.start_lsn, point.cluster.timeline))
    evidence["wal"] = {"segments": found.count, "first": found.first and found.first.name(),
                       "last": found.last and found.last.name(), "gaps": list(found.gaps)}
    if found.count == 0:
        return []
    return [f"WAL chain gap after recovery point {point.id}: segment {WAL}{name} is missing"
            for name in found.gaps] + timeline_reasons(names, point.cluster.timeline)


def _cluster(store: ObjectStore) -> ClusterIdentity | None:
    if store.head(CLUSTER_KEY) is None:
        return None
    return ClusterIdentity.model_validate_json(store.get_bytes(CLUSTER_KEY))


def _integrity_and_restore(inventory: Inventory, store: ObjectStore, point: RecoveryPoint,
                           restore: bool, evidence: dict[str, object],
                           progress: Progress | None) -> list[str]:
    if point.kind == "rds-snapshot":
        from recovery.adapters.rds import RdsSnapshots
        from recovery.backups.rds_backup import rds_reasons

        return rds_reasons(inventory, point, RdsSnapshots(inventory), restore=restore, evidence=evidence)
    node = inventory.database.primary
    bin_dir = node.bin_dir if isinstance(node, HostNode) else "/usr/lib/postgresql/15/bin"
    heads = {entry.key: store.head(entry.key) for entry in point.objects}
    sizes = {key: head.size if head else None for key, head in heads.items()}
    problems = [p for entry in point.objects if (p := object_problem(entry, sizes[entry.key]))]
    if problems:
        return problems
    if point.kind == "physical":
        with scratch(bin_dir, inventory.database.user) as box:
            reasons = _physical(store, point, box, evidence, progress)
            if not reasons and restore:
                evidence["isolation"] = ISOLATION
                reasons = _restore_physical(inventory, store, point, box, evidence)
    elif not restore:
        return _hash_only(store, point, evidence, progress)
    else:
        with scratch(bin_dir, inventory.database.user) as box:
            evidence["isolation"] = ISOLATION
            reasons = _restore_logical(store, point, box, inventory.database.name, evidence)
    evidence["scratch_cleanup"] = box.cleanup
    return reasons


def _unanswered(pid: str, step: str, err: CloudError) -> VerificationFailed:
    """The bucket did not answer a step: the point is neither verified nor failed, and says so."""
    return VerificationFailed(f"recovery point {pid} was not verified: step '{step}' failed ({err})")


def verify_point(inventory: Inventory, store: ObjectStore, pid: str, *, restore: bool,
                 progress: Progress | None = None, clock: Clock | None = None) -> Verification:
    """Check one point; the verdict is stored (when the manifest could be read) and returned."""
    clock = clock or SystemClock()
    started, began = clock.now(), clock.monotonic()
    point = load_point(store, pid)
    evidence: dict[str, object] = {"manifest": manifest_key(pid), "manifest_sha256": point.manifest_sha256}
    reasons = identity_reasons(point, _cluster(store))
    if not reasons:
        try:
            reasons = _integrity_and_restore(inventory, store, point, restore, evidence, progress)
        except ObjectNotFound as err:
            reasons = [str(err)]
        except CloudError as err:  # the bucket did not answer: no verdict on the point either way
            raise _unanswered(pid, "read its objects", err) from None
        except DrError as err:
            reasons = [str(err)]
        try:
            reasons += wal_reasons(store, point, evidence)
        except CloudError as err:
            raise _unanswered(pid, "list the archived WAL", err) from None
    evidence["seconds"] = round(clock.monotonic() - began, 3)
    verdict = Verification(point_id=pid, checked_at=started, restore=restore, ok=not reasons,
                           reasons=reasons, evidence=evidence)
    store.put_bytes(verification_key(pid, started, restore=verdict.restore), verdict.model_dump_json(indent=2).encode(),
                    retain_until=point.retain_until)
    log.info("verification of %s: %s", pid, "ok" if verdict.ok else "; ".join(reasons))
    return verdict


def _fetch_all(store: ObjectStore, keys: list[str]) -> list[bytes]:
    """GET many small objects at once (S3 latency, not bandwidth, bounds a catalog read)."""
    with ThreadPoolExecutor(max_workers=FETCHERS) as pool:
        return list(pool.map(store.get_bytes, keys))


def read_catalog(store: ObjectStore) -> Catalog:
    """Every manifest with its newest verdict, and the WAL chain since the oldest physical point."""
    manifests: list[str] = []
    newest_verdict: dict[str, str] = {}
    newest_restore: dict[str, str] = {}
    for key in (obj.key for obj in store.list(POINTS)):
        pid, _, rest = key[len(POINTS):].partition("/")
        if rest == "manifest.json":
            manifests.append(key)
        elif rest.startswith("verifications/"):
            newest_verdict[pid] = max(key, newest_verdict.get(pid, ""))
            if key.endswith(RESTORE_SUFFIX):
                newest_restore[pid] = max(key, newest_restore.get(pid, ""))
    statuses, broken = [], []
    points: list[RecoveryPoint] = []
    for key, data in zip(manifests, _fetch_all(store, manifests), strict=True):
        try:
            points.append(parse_manifest(data, key))
        except VerificationFailed as err:
            broken.append(str(err))
    verdict_keys = sorted({found[p.id] for found in (newest_verdict, newest_restore) for p in points
                           if p.id in found})
    verdicts = dict(zip(verdict_keys, _fetch_all(store, verdict_keys), strict=True))

    def parsed(found: dict[str, str], pid: str) -> Verification | None:
        stored = verdicts.get(found.get(pid, ""))
        return parse_verification(stored) if stored is not None else None

    for point in points:
        proof = strongest_proof(parsed(newest_verdict, point.id), parsed(newest_restore, point.id))
        statuses.append(PointStatus(point, proof))
    statuses.sort(key=lambda s: s.point.finished_at)
    starts = [segment_of(s.point.start_lsn, s.point.cluster.timeline) for s in statuses
              if s.point.kind == "physical" and s.point.start_lsn]
    names = [obj.key[len(WAL):] for obj in store.list(WAL)]
    wal = chain(names, since=min(starts) if starts else None) if names else None
    return Catalog(statuses, broken, wal)


def latest_point_id(store: ObjectStore) -> str:
    ids = sorted({obj.key.split("/")[1] for obj in store.list("points/") if obj.key.endswith("manifest.json")})
    if not ids:
        raise VerificationFailed("no recovery point in the bucket (no points/*/manifest.json)")
    return ids[-1]
