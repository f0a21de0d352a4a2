"""The restore queue: WAL segments downloaded in parallel ahead of replay, checked, within a budget.

    PYTHON -m recovery.wal.restore_queue --inventory FILE --queue DIR [--parallel 4] [--max-bytes N]

Started on demand by `recovery.wal_fetch` (the restore_command). It answers `want/<name>`
requests first (`ready/<name>`, or `missing/<name>` when not archived, or `failed/<name>`) and
keeps the segments after the last one served (`served`) downloaded in `ready/`, at most
`--max-bytes` of them (default 128 MiB, pgBackRest's archive-get queue). A file reaches
`ready/` only after its SHA-256 matched the WAL manifest's. A file that was asked for stays
there until the command takes it, even when `served` (say, of an earlier restore on this
queue) is past it. Whether a segment is archived is
decided when replay asks for it, never from an earlier prefetch miss. Unserved files are
removed when the queue exits after `--idle` seconds in which replay neither asked for a file
nor took one (`served` did not move).
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

from policies.errors import DrError, VerificationFailed
from recovery.adapters.s3_store import S3ObjectStore
from recovery.inventory import load_inventory
from recovery.ports import ObjectNotFound
from recovery.wal import daemon
from recovery.wal.partials import chunk_reason, padded, parse_chunk, serve_refusal
from recovery.wal.segments import WAL, parse_segment, wal_key
from recovery.wal.spool import QUEUE_BYTES, SHA256_META, manifest_reason, prefetch_window, replay_position, stale
from recovery.wal.streaming import PARTIAL, assemble, partial_prefix

log = logging.getLogger("crmdr.wal_restore_queue")
MISS_BACKOFF = 1.0  # seconds before a segment a prefetch did not find is tried again
# Seconds between looks at the queue directory (a look costs ~0.4 ms of CPU, taken from replay on a
# small host). Replay taking ready files by rename never waits for a look; a request waits one.
STEP = 0.02


@dataclass(frozen=True)
class Downloader:
    store: S3ObjectStore

    @classmethod
    def open(cls, inventory_file: Path) -> "Downloader":
        return cls(S3ObjectStore(load_inventory(inventory_file), lock_mode="GOVERNANCE"))

    def download(self, name: str, target: Path, *, partial: bool = False) -> None:
        """Write the archived file to `target` once its bytes match the manifest's SHA-256.

        With `partial` (replay asks for this very file), a segment not in `wal/` may come from
        its streamed partial (`partial_segment`); a prefetch never serves one.
        """
        try:
            data, metadata = self.store.get_with_metadata(wal_key(name))
        except ObjectNotFound:
            if not partial:
                raise
            data = self.partial_segment(name)
        else:
            if reason := manifest_reason(name, metadata.get(SHA256_META), hashlib.sha256(data).hexdigest()):
                raise VerificationFailed(reason)
        partial_file = target.with_name(f".{target.name}.{os.getpid()}.crmdr-partial")
        try:
            partial_file.write_bytes(data)
            partial_file.replace(target)
        finally:
            partial_file.unlink(missing_ok=True)

    def partial_segment(self, name: str) -> bytes:
        """The streamed partial of segment `name`: each chunk checked, assembled, padded to a segment.

        ObjectNotFound when there is none or it must not be served (`partials.serve_refusal`);
        VerificationFailed, naming the key, for a chunk whose SHA-256 differs or a missing chunk.
        """
        if (segment := parse_segment(name)) is None:
            raise ObjectNotFound(f"{wal_key(name)} is not archived")
        chunks = [c for obj in self.store.list(partial_prefix(name + PARTIAL))
                  if (c := parse_chunk(obj.key, obj.size)) is not None]
        if not chunks:
            raise ObjectNotFound(f"{wal_key(name)} is not archived and has no streamed partial")
        names = [obj.key[len(WAL):] for obj in self.store.list(f"{WAL}{name[:8]}")]
        later = f"{segment.timeline + 1:08X}.history"
        if self.store.head(wal_key(later)) is not None:
            names.append(later)
        if reason := serve_refusal(name, names):
            raise ObjectNotFound(f"{wal_key(name)} is not archived; {reason}")
        parts = []
        for chunk in chunks:
            data, metadata = self.store.get_with_metadata(chunk.key)
            if reason := chunk_reason(chunk, metadata.get(SHA256_META), hashlib.sha256(data).hexdigest()):
                raise VerificationFailed(reason)
            parts.append((chunk.start, data))
        try:
            body = assemble(parts)
            whole = padded(body)
        except ValueError as err:
            raise VerificationFailed(f"{partial_prefix(name + PARTIAL)}: {err}") from None
        log.warning("%s: served the streamed partial segment (%d bytes received in %d chunk(s), zero-padded "
                    "to %d): nothing after byte %d of it is in the bucket", name, len(body), len(parts),
                    len(whole), len(body))
        return whole


class RestoreQueue:
    def __init__(self, downloader: Downloader, queue: Path, parallel: int, max_bytes: int) -> None:
        self.downloader, self.queue, self.parallel, self.max_bytes = downloader, queue, parallel, max_bytes
        self.pool = ThreadPoolExecutor(max_workers=parallel, thread_name_prefix="wal-fetch")
        self.in_flight: dict[str, Future[None]] = {}
        self.missed: dict[str, float] = {}
        self.answered: set[str] = set()  # asked for: kept in ready/ until the command takes it
        self.seen_served: str | None = None

    def _names(self, sub: str) -> list[str]:
        return sorted(p.name for p in (self.queue / sub).iterdir() if not p.name.startswith("."))

    def _fetch(self, name: str, wanted: bool) -> None:
        try:
            self.downloader.download(name, self.queue / "ready" / name, partial=wanted)
        except ObjectNotFound as err:
            self.missed[name] = time.monotonic()
            if wanted:
                log.info("%s: %s", name, err)  # the end of the archive, or why its streamed partial is not served
                daemon.write_atomic(self.queue / "missing" / name, "not archived")
        except (DrError, OSError) as err:
            self.missed[name] = time.monotonic()
            log.error("%s: %s", name, err)
            if wanted:
                daemon.write_atomic(self.queue / "failed" / name, str(err))
        finally:
            if wanted:
                (self.queue / "want" / name).unlink(missing_ok=True)

    def _served(self) -> str | None:
        try:
            return (self.queue / "served").read_text().strip() or None
        except FileNotFoundError:
            return None

    def _start(self, name: str, wanted: bool) -> None:
        if wanted:
            self.answered.add(name)
        self.in_flight[name] = self.pool.submit(self._fetch, name, wanted)

    def step(self) -> bool:
        """Answer requests, then fill the window; True when replay asked for a file or took one.

        Replay that finds every segment ready takes them without asking (restore_command's rename):
        a moving `served` is activity too, or the queue would exit mid-replay and drop its window.
        """
        self.in_flight = {n: f for n, f in self.in_flight.items() if not f.done()}
        wants = self._names("want")
        ready = self._names("ready")
        served = self._served()
        moved, self.seen_served = served != self.seen_served, served
        position = replay_position(served, wants)
        self.answered = {n for n in self.answered if n in ready or n in self.in_flight or n in wants}
        for name in stale(ready, position):
            if name not in wants and name not in self.answered:
                (self.queue / "ready" / name).unlink(missing_ok=True)
        for name in wants:
            if name in ready:
                self.answered.add(name)
                (self.queue / "want" / name).unlink(missing_ok=True)
            elif name not in self.in_flight:
                self._start(name, wanted=True)  # a request never waits for a free slot
        now = time.monotonic()
        for name in prefetch_window(position, [*ready, *self.in_flight], budget=self.max_bytes):
            if len(self.in_flight) >= self.parallel:
                break
            if now - self.missed.get(name, -MISS_BACKOFF) >= MISS_BACKOFF:
                self._start(name, wanted=False)
        return bool(wants) or moved

    def serve(self, idle: float) -> None:
        last_request = time.monotonic()
        while time.monotonic() - last_request < idle:
            if self.step():
                last_request = time.monotonic()
            time.sleep(STEP)
        self.pool.shutdown(wait=True)
        for name in self._names("ready"):
            (self.queue / "ready" / name).unlink(missing_ok=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="recovery.wal.restore_queue", description=__doc__.splitlines()[0])
    parser.add_argument("--inventory", type=Path, required=True)
    parser.add_argument("--queue", type=Path, required=True)
    parser.add_argument("--parallel", type=int, default=4)
    parser.add_argument("--max-bytes", type=int, default=QUEUE_BYTES)
    parser.add_argument("--idle", type=float, default=30.0, help="exit after this many seconds without requests")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s crmdr wal_restore_queue[%(process)d]: %(message)s")
    lock = daemon.take_lock(args.queue)
    if lock is None:
        return 0
    try:
        RestoreQueue(Downloader.open(args.inventory), args.queue, max(args.parallel, 1),
                     args.max_bytes).serve(args.idle)
    finally:
        os.close(lock)
    return 0


if __name__ == "__main__":
    sys.exit(main())
