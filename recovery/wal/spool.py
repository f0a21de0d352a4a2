"""What the WAL archiver and the restore queue decide: which files next, whether an ack holds. Pure.

The archive_command and restore_command stay one process per file (PostgreSQL calls them so),
but each is a thin client of a long-running helper that keeps one S3 client and works ahead:
the archiver uploads every `archive_status/*.ready` file in parallel, oldest first; the restore
queue downloads the segments after the last one replay took, within a byte budget
(pgBackRest's archive-get queue: its issue #2275 shows oversized queues slowing replay).

Each archived file carries its SHA-256 in its object's metadata (`sha256`: the WAL manifest
entry, written with the object in one PUT and locked with it); an ack names that digest.
"""

import json
import posixpath
import shlex
from collections.abc import Iterable

from recovery.wal.segments import SEGMENT_SIZE, Segment, parse_segment

READY = ".ready"
SHA256_META = "sha256"  # user metadata key of an archived WAL file: hex SHA-256 of its bytes
QUEUE_BYTES = 128 * 1024 * 1024  # pgBackRest's archive-get-queue-max default
QUEUE = "crmdr-wal-queue"  # the restore queue's directory, next to the inventory on the host


def ready_names(status_files: Iterable[str]) -> list[str]:
    """WAL files PostgreSQL marked ready (`<name>.ready` in archive_status), oldest first.

    Segments sort by name within a timeline; history files (`.history`) go first so a
    timeline's history is archived before its segments, as PostgreSQL itself orders them.
    """
    names = {f.removesuffix(READY) for f in status_files if f.endswith(READY) and "/" not in f}
    return sorted(names, key=lambda n: (not n.endswith(".history"), n))


def next_uploads(ready: Iterable[str], in_flight: Iterable[str], acked: Iterable[str], slots: int) -> list[str]:
    """Up to `slots` files to start uploading: ready, not already being uploaded or acknowledged."""
    busy = set(in_flight) | set(acked)
    return [name for name in ready if name not in busy][:max(slots, 0)]


def ack_record(sha256: str, size: int) -> str:
    return json.dumps({"sha256": sha256, "size": size})


def ack_reason(record: str, sha256: str, size: int) -> str | None:
    """Why an ack file does not confirm this content (None: it is stored with exactly these bytes)."""
    try:
        found = json.loads(record)
        stored, stored_size = str(found["sha256"]), int(found["size"])
    except (ValueError, KeyError, TypeError):
        return "the ack is unreadable"
    if stored != sha256 or stored_size != size:
        return f"the ack is for other content (sha256 {stored[:12]}…, {stored_size} bytes)"
    return None


def manifest_reason(name: str, expected: str | None, actual: str, *, key: str | None = None) -> str | None:
    """Why a fetched WAL file must not be replayed (None: its bytes match the manifest's SHA-256).

    `key`: the object read, when not `wal/<name>` (a streamed partial's chunk carries its own).
    """
    where = key or f"wal/{name}"
    if not expected:
        return f"{where} has no SHA-256 in the WAL manifest (object metadata '{SHA256_META}')"
    if expected.lower() != actual:
        return f"{where} is corrupt: SHA-256 {actual[:16]}… differs from the manifest's {expected[:16]}…"
    return None


def replay_position(served: str | None, wanted: Iterable[str], segment_size: int = SEGMENT_SIZE) -> str | None:
    """Where replay is: the segment it asks for now (the newest asked for), else the last one it took.

    A request places replay before it has taken anything, so the window fills while the first
    segment downloads instead of after it; and a new restore on this queue is placed by what it
    asks for, not by the `served` an earlier one left further along.
    """
    asked = [s for name in wanted if (s := parse_segment(name, segment_size)) is not None]
    return max(asked).name(segment_size) if asked else served


def prefetch_window(last_served: str | None, queued: Iterable[str], *, budget: int = QUEUE_BYTES,
                    segment_size: int = SEGMENT_SIZE) -> list[str]:
    """Segments to download ahead of replay: those after the last served one, within `budget` bytes.

    Already queued segments count against the budget; nothing is planned before replay has
    taken a first segment (its timeline and place are unknown until then).
    """
    last = parse_segment(last_served, segment_size) if last_served else None
    if last is None:
        return []
    depth = max(budget // segment_size, 1)
    ahead = [Segment(last.timeline, last.number + k).name(segment_size) for k in range(1, depth + 1)]
    held = set(queued)
    room = depth - sum(1 for name in held if name in ahead)
    return [name for name in ahead if name not in held][:max(room, 0)]


def stale(queued: Iterable[str], last_served: str | None, segment_size: int = SEGMENT_SIZE) -> list[str]:
    """Queued segments replay has moved past (at or before the last served one, same timeline)."""
    last = parse_segment(last_served, segment_size) if last_served else None
    if last is None:
        return []
    return [name for name in queued if (s := parse_segment(name, segment_size)) is not None
            and s.timeline == last.timeline and s.number <= last.number]


def restore_command(python: str, inventory_file: str, queue: str | None = None) -> str:
    """restore_command: a segment the queue already holds is taken with a rename, no interpreter started.

    PostgreSQL runs restore_command once per segment and waits for it: a Python process costs
    0.1-0.2 s (more on a loaded host) where replaying a segment takes ~0.07 s, so only a shell
    `mv` keeps pace. A file reaches `ready/` only after its SHA-256 matched the manifest, and
    the queue drops stale ones; anything not there (not yet downloaded, dropped, not archived)
    goes to `recovery.wal_fetch`, which asks the queue and waits. `served` tells the queue
    where replay is. The queue defaults to `QUEUE` next to the inventory file.
    """
    q = shlex.quote
    queue = queue or posixpath.join(posixpath.dirname(inventory_file), QUEUE)
    served = f"{q(queue)}/served"
    take = f"mv -f {q(queue)}/ready/%f %p 2>/dev/null && echo %f > {served}.$$ && mv -f {served}.$$ {served}"
    ask = f"{q(python)} -m recovery.wal_fetch --inventory {q(inventory_file)} --queue {q(queue)} %f %p"
    return f"{{ {take}; }} || {ask}"
