"""What restore and prune decide about the streamed partial segments under `wal-partial/`. Pure.

`crmdr backup wal stream` stores the segment it is receiving as chunks
`wal-partial/<segment>.partial/<8-hex start offset>` (`recovery.wal.streaming`). Recovery asks
for segment X; when `wal/X` does not exist, its chunks are served instead, assembled and padded
with zeros to the segment size, as Barman's `barman-wal-restore --partial` does. Never when the
partial is stale: a complete segment after X on its timeline, or a later timeline, means the
WAL moved on without it (the stream's bytes would be superseded or divergent). History files
never come from a partial. Prune removes a partial once its segment is archived whole or it is
older than the WAL every kept point needs.
"""

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from recovery.wal.segments import SEGMENT_SIZE, WAL, Segment, parse_lsn, parse_segment
from recovery.wal.spool import manifest_reason
from recovery.wal.streaming import PARTIAL, PARTIAL_PREFIX

_OFFSET = re.compile(r"^[0-9A-F]{8}$")


@dataclass(frozen=True)
class Chunk:
    """One stored chunk of a streamed partial segment."""

    key: str
    segment: str  # the segment's name, without `.partial`
    start: int
    size: int
    stored_at: datetime | None = None


def parse_chunk(key: str, size: int, stored_at: datetime | None = None) -> Chunk | None:
    """The chunk a key `wal-partial/<segment>.partial/<8 hex>` names, or None for anything else."""
    folder, _, offset = key.removeprefix(PARTIAL_PREFIX).partition("/")
    segment = folder.removesuffix(PARTIAL)
    if (not key.startswith(PARTIAL_PREFIX) or folder == segment or parse_segment(segment) is None
            or not _OFFSET.match(offset)):
        return None
    return Chunk(key, segment, int(offset, 16), size, stored_at)


def serve_refusal(name: str, wal_names: Iterable[str]) -> str | None:
    """Why the streamed partial of `name` must not be served to recovery (None: it may be).

    `wal_names`: the archived files (names under `wal/`) of the segment's timeline and any
    history file of a later timeline.
    """
    wanted = parse_segment(name)
    if wanted is None:
        return f"{name} is not a WAL segment: history and other files never come from a streamed partial"
    names = set(wal_names)
    if name in names:
        return f"{WAL}{name} is archived: the complete segment wins over its streamed partial"
    for other in sorted(names):
        seg = parse_segment(other)
        if seg is not None and seg.timeline == wanted.timeline and seg.number > wanted.number:
            return f"the streamed partial of {name} is stale: {WAL}{other} completed after it on its timeline"
        if other.endswith(".history") and _history_timeline(other) > wanted.timeline:
            return f"the streamed partial of {name} is stale: {WAL}{other} shows a later timeline forked from it"
    return None


def _history_timeline(name: str) -> int:
    try:
        return int(name.removesuffix(".history"), 16)
    except ValueError:
        return 0


def chunk_reason(chunk: Chunk, expected: str | None, actual: str) -> str | None:
    """Why a fetched chunk must not be served (None: its bytes match the SHA-256 stored with it)."""
    return manifest_reason(chunk.segment, expected, actual, key=chunk.key)


def padded(body: bytes, segment_size: int = SEGMENT_SIZE) -> bytes:
    """The partial as a whole segment: zeros past what was received (recovery stops at the first)."""
    if len(body) > segment_size:
        raise ValueError(f"the streamed partial holds {len(body)} bytes, more than a segment ({segment_size})")
    return body.ljust(segment_size, b"\0")


@dataclass(frozen=True)
class StreamedPartial:
    """The streamed partial a restore would end with: its segment, bytes received, chunks, last upload."""

    segment: str
    received: int
    chunks: int
    stored_at: datetime | None

    def describe(self) -> str:
        return (f"then the streamed partial segment {self.segment} from {PARTIAL_PREFIX} ({self.received} of "
                f"{SEGMENT_SIZE} bytes received; the rest of it never reached the bucket)")


def group(chunks: Iterable[Chunk]) -> dict[str, list[Chunk]]:
    """Chunks by segment name, each list in offset order."""
    found: dict[str, list[Chunk]] = {}
    for chunk in sorted(chunks, key=lambda c: (c.segment, c.start)):
        found.setdefault(chunk.segment, []).append(chunk)
    return found


def restorable(wal_names: Sequence[str], chunks: Iterable[Chunk]) -> StreamedPartial | None:
    """The newest streamed partial restore_command would serve, if one continues the archived WAL.

    Continuing: the segment right after the newest archived one on its timeline; recovery
    stops at a hole before it and would never ask for it.
    """
    newest: dict[int, Segment] = {}
    for name in wal_names:
        if (seg := parse_segment(name)) is not None and seg > newest.get(seg.timeline, Segment(0, -1)):
            newest[seg.timeline] = seg
    best: StreamedPartial | None = None
    for segment, parts in group(chunks).items():
        seg = parse_segment(segment)
        before = newest.get(seg.timeline) if seg else None
        if seg is None or before is None or seg.number != before.number + 1 or serve_refusal(segment, wal_names):
            continue
        stored = [c.stored_at for c in parts if c.stored_at is not None]
        found = StreamedPartial(segment, max(c.start + c.size for c in parts), len(parts),
                                max(stored) if stored else None)
        best = found if best is None or segment > best.segment else best
    return best


def replay_evidence(partial: StreamedPartial, last_archived: str | None, replayed_lsn: str,
                    archived_now: bool) -> dict[str, object]:
    """What the restore says about the partial it offered: replayed, and to which byte of it, or not.

    `last_archived`: the newest segment of `wal/` the replay used (the end without the partial).
    """
    seg = parse_segment(partial.segment)
    lsn = parse_lsn(replayed_lsn) if replayed_lsn else 0
    into = seg is not None and lsn // SEGMENT_SIZE == seg.number and not archived_now
    return {"segment": partial.segment, "received_bytes": partial.received, "chunks": partial.chunks,
            "after_archived": last_archived, "replayed": into,
            "replayed_to_byte": lsn % SEGMENT_SIZE if into else None}


def replay_note(evidence: dict[str, object]) -> str:
    """One sentence for the operator: the last segment was incomplete, and how far replay got."""
    segment = evidence["segment"]
    if not evidence["replayed"]:
        return (f"The streamed partial segment {segment} ({evidence['received_bytes']} bytes) was offered but "
                "not replayed into (replay ended before it, or it is now archived whole).")
    return (f"The last segment replayed, {segment}, was a streamed partial from {PARTIAL_PREFIX}: replayed to "
            f"byte {evidence['replayed_to_byte']} of it ({evidence['received_bytes']} bytes received); the "
            "primary's WAL after that never reached the bucket.")


def removable(chunks: Iterable[Chunk], wal_names: Iterable[str], oldest_start: int | None) -> dict[str, str]:
    """Partials prune may remove (segment -> why): archived whole, or older than every kept point's WAL start."""
    archived = set(wal_names)
    found: dict[str, str] = {}
    for segment in group(chunks):
        seg = parse_segment(segment)
        if segment in archived:
            found[segment] = f"{WAL}{segment} is archived whole"
        elif seg is not None and oldest_start is not None and seg.number < oldest_start:
            found[segment] = "older than the WAL start of every kept recovery point"
    return found


def lock_limitation(retain_until: Iterable[datetime | None], now: datetime) -> str | None:
    """Why a partial's chunks stay for now (Object Lock, until when), or None: they may all go."""
    locked = [when for when in retain_until if when is not None and when > now]
    if locked:
        return f"locked until {max(locked).isoformat(timespec='seconds')}: Object Lock retains its chunks"
    return None
