"""What the WAL streamer decides: which received files to upload, and when the partial segment. Pure.

`pg_receivewal` writes the segment it is receiving as `<name>.partial` (preallocated to the
full segment size, zero past what it received) and renames it to `<name>` once complete.
Completed files go to `wal/<name>`, exactly as the archiver stores them. The partial's
received part goes up on a cadence as chunks `wal-partial/<name>.partial/<start offset, 8 hex>`,
each from the last page already sent to the end of what was received: the bucket (its Object
Lock keeps every version) then holds each partial's bytes about once, not once per upload, and
the primary's WAL to within seconds instead of to the last completed segment.
"""

from collections.abc import Iterable, Mapping

from recovery.wal.segments import parse_segment

PARTIAL = ".partial"
PARTIAL_PREFIX = "wal-partial/"
WAL_PAGE = 8192  # XLOG_BLCKSZ: every WAL page that holds data starts with a non-zero page header
WRITTEN_META = "written"  # user metadata of a stored partial: bytes of the segment received


def partial_prefix(file_name: str) -> str:
    return f"{PARTIAL_PREFIX}{file_name}/"


def chunk_key(file_name: str, start: int) -> str:
    return f"{partial_prefix(file_name)}{start:08X}"


def chunk_start(sent_end: int, page: int = WAL_PAGE) -> int:
    """Where the next chunk starts: the last page sent again (it may have been half written then)."""
    return max(sent_end - page, 0)


def assemble(chunks: Iterable[tuple[int, bytes]]) -> bytes:
    """A partial's received bytes from its chunks (start, bytes); later chunks overwrite the overlap.

    ValueError when a chunk starts past the end of the ones before it (one is missing).
    """
    out = bytearray()
    for start, data in sorted(chunks, key=lambda chunk: chunk[0]):
        if start > len(out):
            raise ValueError(f"partial chunks have a gap at offset {len(out)} (next starts at {start})")
        out[start:start + len(data)] = data
    return bytes(out)


def completed(names: Iterable[str]) -> list[str]:
    """Complete segments and history files (each is removed once stored); history first, then oldest."""
    found = {n for n in names if parse_segment(n) is not None or n.endswith(".history")}
    return sorted(found, key=lambda n: (not n.endswith(".history"), n))


def newest_partial(names: Iterable[str]) -> str | None:
    """The `.partial` segment pg_receivewal is writing (the newest, should an old one be left)."""
    partials = [n for n in names if n.endswith(PARTIAL) and parse_segment(n.removesuffix(PARTIAL))]
    return max(partials, default=None)


def written_length(data: bytes, page: int = WAL_PAGE) -> int:
    """The received part of a preallocated partial: up to the end of its last page holding data.

    Whole trailing zero pages were never written (a written page has a non-zero header);
    zeros inside the last written page are kept, since a record may end in them.
    """
    end = len(data.rstrip(b"\0"))
    return min(-(-end // page) * page, len(data))


def partial_due(now: float, last_look: float | None, every: float) -> bool:
    """Look at the partial again (read, hash, upload if changed) once `every` seconds have passed."""
    return last_look is None or now - last_look >= every


def last_message(log: str) -> str:
    """pg_receivewal's last message in `log`, on one line: its last `pg_receivewal: ` line and the
    DETAIL/HINT lines after it (the cause is often above an error's last line); "" for none."""
    lines = [" ".join(line.split()) for line in log.splitlines() if line.strip()]
    starts = [i for i, line in enumerate(lines) if line.startswith("pg_receivewal: ")]
    return " ".join(lines[starts[-1]:] if starts else lines[-1:])


def pick_primary(answers: Mapping[str, bool | None]) -> str | None:
    """The node to stream from: the one node answering as a primary (`pg_is_in_recovery()` false).

    None when no node does (mid-failover, all down) or more than one does (split brain: which
    one's WAL is the cluster's is not for the stream to decide); `answers` maps node -> in
    recovery, None when it did not answer.
    """
    primaries = [name for name, in_recovery in answers.items() if in_recovery is False]
    return primaries[0] if len(primaries) == 1 else None


def backoff(attempt: int, first: float = 1.0, cap: float = 10.0) -> float:
    """Seconds before looking for the primary again after `attempt` failed tries in a row (0: at once)."""
    return 0.0 if attempt <= 0 else min(first * 2 ** (attempt - 1), cap)
