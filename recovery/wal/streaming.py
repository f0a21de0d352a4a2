"""What the WAL streamer decides: which received files to upload, and when the partial segment. Pure.

`pg_receivewal` writes the segment it is receiving as `<name>.partial` (preallocated to the
full segment size, zero past what it received) and renames it to `<name>` once complete.
Completed files go to `wal/<name>`, exactly as the archiver stores them. The partial's
received part goes to `wal-partial/<name>.partial` on a cadence, so the bucket holds the
primary's WAL to within seconds instead of to the last completed segment.
"""

from collections.abc import Iterable

from recovery.wal.segments import parse_segment

PARTIAL = ".partial"
PARTIAL_PREFIX = "wal-partial/"
WAL_PAGE = 8192  # XLOG_BLCKSZ: every WAL page that holds data starts with a non-zero page header
WRITTEN_META = "written"  # user metadata of a stored partial: bytes of the segment received


def partial_key(file_name: str) -> str:
    return f"{PARTIAL_PREFIX}{file_name}"


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
