"""WAL segment names, LSNs and the archived chain's continuity. Pure.

Archived segments live under `wal/<24-hex name>`; timeline history files as `wal/<tli>.history`.
A chain is continuous when every segment from a base backup's start segment to the newest
archived one is present on one timeline (or its history), as pgBackRest's verify checks.
"""

import re
from dataclasses import dataclass

WAL = "wal/"
SEGMENT_SIZE = 16 * 1024 * 1024
_SEGMENT = re.compile(r"^([0-9A-F]{8})([0-9A-F]{8})([0-9A-F]{8})$")


@dataclass(frozen=True, order=True)
class Segment:
    timeline: int
    number: int  # absolute segment number

    def name(self, segment_size: int = SEGMENT_SIZE) -> str:
        per_log = 0x100000000 // segment_size
        return f"{self.timeline:08X}{self.number // per_log:08X}{self.number % per_log:08X}"


def parse_segment(name: str, segment_size: int = SEGMENT_SIZE) -> Segment | None:
    """The segment a file name denotes, or None for anything else (.history, .backup, .partial)."""
    match = _SEGMENT.match(name)
    if not match:
        return None
    per_log = 0x100000000 // segment_size
    return Segment(int(match[1], 16), int(match[2], 16) * per_log + int(match[3], 16))


def parse_lsn(lsn: str) -> int:
    high, _, low = lsn.partition("/")
    return (int(high, 16) << 32) | int(low, 16)


def segment_of(lsn: str, timeline: int, segment_size: int = SEGMENT_SIZE) -> Segment:
    return Segment(timeline, parse_lsn(lsn) // segment_size)


def wal_key(file_name: str) -> str:
    return f"{WAL}{file_name}"


@dataclass(frozen=True)
class Chain:
    """Archived segments per timeline, and the holes between the first and last one."""

    first: Segment | None
    last: Segment | None
    count: int
    gaps: tuple[str, ...]  # names of missing segments (at most `limit`)


def chain(names: list[str], *, since: Segment | None = None, limit: int = 20,
          segment_size: int = SEGMENT_SIZE) -> Chain:
    """Continuity of the archived segments from `since` (a base backup's start) onward.

    A timeline switch continues the chain: the new timeline starts at the segment where the
    old one ended (its history file), so numbers are compared regardless of timeline.
    """
    segments = sorted({s for n in names if (s := parse_segment(n, segment_size)) is not None},
                      key=lambda s: (s.number, s.timeline))
    if since is not None:
        segments = [s for s in segments if s.number >= since.number and s.timeline >= since.timeline]
    if not segments:
        return Chain(first=None, last=None, count=0, gaps=())
    timeline_at = {s.number: s.timeline for s in segments}
    start = since.number if since is not None else segments[0].number
    timeline = since.timeline if since is not None else segments[0].timeline
    missing: list[str] = []
    for number in range(start, segments[-1].number + 1):
        timeline = timeline_at.get(number, timeline)
        if number not in timeline_at:
            missing.append(Segment(timeline, number).name(segment_size))
            if len(missing) >= limit:
                break
    return Chain(first=segments[0], last=segments[-1], count=len(segments), gaps=tuple(missing))


def timeline_reasons(names: list[str], since_timeline: int) -> list[str]:
    """Each timeline after the point's must come with its history file (how it forked)."""
    timelines = {s.timeline for n in names if (s := parse_segment(n)) is not None}
    histories = {n for n in names if n.endswith(".history")}
    return [f"WAL timeline {tli} has segments but no history file {WAL}{tli:08X}.history"
            for tli in sorted(timelines) if tli > since_timeline and f"{tli:08X}.history" not in histories]
