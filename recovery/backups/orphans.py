"""Objects no manifest names: interrupted backups and unfinished multipart uploads. Pure.

A recovery point's manifest is written last, so objects under `points/<id>/` without one are
the remains of a backup that stopped (or one still running); an unfinished multipart upload
keeps its parts, and their cost, until it is aborted. Both are shown and pruned; Object Lock
keeps a locked object until its date, and a young one may belong to a backup still running.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from recovery.backups.manifest import POINTS

RUNNING_GRACE = timedelta(hours=6)
"""Orphans younger than this are kept by prune: a long physical backup may still be writing them."""


@dataclass(frozen=True)
class Orphan:
    """One object or unfinished upload that no manifest names."""

    key: str
    size: int
    kind: Literal["object", "upload"]
    since: datetime | None
    retain_until: datetime | None = None
    upload_id: str = ""

    def describe(self) -> str:
        what = "unfinished multipart upload" if self.kind == "upload" else "object without a manifest"
        since = f", since {self.since.isoformat(timespec='seconds')}" if self.since else ""
        lock = (f", locked until {self.retain_until.isoformat(timespec='seconds')}" if self.retain_until
                else ", not locked")
        return f"{self.key}: {what}, {self.size} bytes{since}{lock if self.kind == 'object' else ''}"

    def as_dict(self) -> dict[str, object]:
        return {"key": self.key, "kind": self.kind, "size": self.size, "upload_id": self.upload_id or None,
                "since": self.since.isoformat() if self.since else None,
                "retain_until": self.retain_until.isoformat() if self.retain_until else None}


def orphan_keys(keys: Iterable[str]) -> list[str]:
    """Keys under `points/` whose point has no `manifest.json`."""
    listed = list(keys)
    sealed = {key[len(POINTS):].partition("/")[0] for key in listed
              if key.startswith(POINTS) and key[len(POINTS):].partition("/")[2] == "manifest.json"}
    return [key for key in listed if key.startswith(POINTS) and key[len(POINTS):].partition("/")[0] not in sealed]


def removal_limitation(orphan: Orphan, now: datetime, grace: timedelta = RUNNING_GRACE) -> str | None:
    """Why prune keeps an orphan for now (with until when), or None: it may go."""
    if orphan.since is not None and now - orphan.since < grace:
        return (f"kept until {(orphan.since + grace).isoformat(timespec='seconds')}: younger than "
                f"{grace}, it may belong to a backup still running")
    if orphan.kind == "object" and orphan.retain_until is not None and orphan.retain_until > now:
        return f"kept until {orphan.retain_until.isoformat(timespec='seconds')}: Object Lock retains it"
    return None
