"""The WAL archiver: one process per spool, one S3 client, parallel uploads of every ready file.

    PYTHON -m recovery.wal.archiver --inventory FILE --spool DIR [--parallel 4]

Started on demand by `recovery.wal_push` (the archive_command). It serves the spool's
`want/<name>` requests (their text: the file's path) and, in the same `pg_wal` directory,
every file PostgreSQL has marked `archive_status/<name>.ready`, oldest first, `--parallel` at
a time. For each it writes `ok/<name>` (SHA-256 and size) only after the PUT succeeded, or
after finding the same bytes already stored; `failed/<name>` says why not. It exits after
`--idle` seconds without work. Killing it loses nothing acknowledged: an ack is written only
for a stored object, and PostgreSQL keeps every file whose command did not exit 0.
"""

import argparse
import hashlib
import logging
import os
import sys
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from policies.errors import DrError
from policies.sla import Tier, load_policy
from recovery.adapters.clock import SystemClock
from recovery.adapters.s3_store import S3ObjectStore
from recovery.inventory import inventory_tier, load_inventory
from recovery.wal import daemon
from recovery.wal.segments import wal_key
from recovery.wal.spool import SHA256_META, ack_record, next_uploads, ready_names

log = logging.getLogger("crmdr.wal_archiver")
ACK_KEEP = 3600.0  # seconds an ack stays in the spool (a retry of an old file asks again)


@dataclass(frozen=True)
class Uploader:
    """Stores WAL files: SSE-KMS, Object Lock for the tier's retention, SHA-256 in the metadata."""

    store: S3ObjectStore
    tier: Tier

    @classmethod
    def open(cls, inventory_file: Path) -> "Uploader":
        inventory = load_inventory(inventory_file)
        tier = inventory_tier(inventory, load_policy(None))
        return cls(S3ObjectStore(inventory, lock_mode=tier.object_lock_mode), tier)

    def store_bytes(self, data: bytes, name: str) -> tuple[str, str]:
        """(what was done, SHA-256); DrError when other bytes are stored under the name."""
        digest = hashlib.sha256(data).hexdigest()
        key = wal_key(name)
        existing = self.store.head(key)
        if existing is not None:
            stored = existing.sha256 or hashlib.sha256(self.store.get_bytes(key)).hexdigest()
            if existing.size == len(data) and stored == digest:
                return "already archived", digest
            raise DrError(f"{key} already exists with different content; refusing to overwrite")
        self.put_locked(key, data, {SHA256_META: digest})
        return "stored", digest

    def put_locked(self, key: str, data: bytes, metadata: dict[str, str]) -> None:
        """One PUT, locked for the tier's retention (the streamer's partial chunks go up this way too)."""
        self.store.put_bytes(key, data, retain_until=SystemClock().now() + self.tier.retention, metadata=metadata)

    def store_file(self, path: Path, name: str) -> str:
        return self.store_bytes(path.read_bytes(), name)[0]


class Archiver:
    """The serving loop over one spool."""

    def __init__(self, uploader: Uploader, spool: Path, parallel: int) -> None:
        self.uploader, self.spool, self.parallel = uploader, spool, parallel
        self.pool = ThreadPoolExecutor(max_workers=parallel, thread_name_prefix="wal-upload")
        self.in_flight: dict[str, Future[None]] = {}
        self.wal_dirs: set[Path] = set()

    def _upload(self, name: str, path: Path) -> None:
        try:
            data = path.read_bytes()
            done, digest = self.uploader.store_bytes(data, name)
            daemon.write_atomic(self.spool / "ok" / name, ack_record(digest, len(data)))
            log.info("%s %s (%d bytes)", name, done, len(data))
        except (DrError, OSError) as err:
            daemon.write_atomic(self.spool / "failed" / name, str(err))
            log.error("%s: %s", name, err)
        finally:
            (self.spool / "want" / name).unlink(missing_ok=True)

    def _candidates(self) -> dict[str, Path]:
        """Requested files first (their paths), then every ready file next to them."""
        found: dict[str, Path] = {}
        for want in sorted((self.spool / "want").iterdir()):
            if want.name.startswith("."):
                continue
            try:
                found[want.name] = Path(want.read_text().strip())
            except FileNotFoundError:
                continue
            self.wal_dirs.add(found[want.name].parent)
        for wal_dir in self.wal_dirs:
            try:
                status = os.listdir(wal_dir / "archive_status")
            except FileNotFoundError:
                continue
            for name in ready_names(status):
                found.setdefault(name, wal_dir / name)
        return found

    def step(self) -> bool:
        """Start what can start; True when anything is in flight or was started."""
        self.in_flight = {n: f for n, f in self.in_flight.items() if not f.done()}
        candidates = self._candidates()
        acked = {n for n in candidates if (self.spool / "ok" / n).exists() and not (self.spool / "want" / n).exists()}
        for name in next_uploads(list(candidates), self.in_flight, acked, self.parallel - len(self.in_flight)):
            self.in_flight[name] = self.pool.submit(self._upload, name, candidates[name])
        return bool(self.in_flight)

    def prune(self) -> None:
        cutoff = time.time() - ACK_KEEP
        for ack in (self.spool / "ok").iterdir():
            if ack.stat().st_mtime < cutoff:
                ack.unlink(missing_ok=True)

    def serve(self, idle: float) -> None:
        last_work = time.monotonic()
        while time.monotonic() - last_work < idle:
            if self.step():
                last_work = time.monotonic()
                time.sleep(daemon.POLL)
            else:
                time.sleep(0.02)
        self.prune()
        self.pool.shutdown(wait=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="recovery.wal.archiver", description=__doc__.splitlines()[0])
    parser.add_argument("--inventory", type=Path, required=True)
    parser.add_argument("--spool", type=Path, required=True)
    parser.add_argument("--parallel", type=int, default=4)
    parser.add_argument("--idle", type=float, default=60.0, help="exit after this many seconds without work")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s crmdr wal_archiver[%(process)d]: %(message)s")
    lock = daemon.take_lock(args.spool)
    if lock is None:
        return 0  # another archiver serves this spool
    try:
        Archiver(Uploader.open(args.inventory), args.spool, max(args.parallel, 1)).serve(args.idle)
    except DrError as err:
        log.error("%s", err)
        return 1
    finally:
        os.close(lock)
    return 0


if __name__ == "__main__":
    sys.exit(main())
