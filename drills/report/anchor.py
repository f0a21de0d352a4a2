"""The chain's links anchored in the Object-Locked DR bucket, where a rewritten directory cannot reach.

Every link of `chain.jsonl` (report or key rotation) gets one locked object whose key names
its position, id and SHA-256: `drill-reports/chains/<first id>/<position>-<id>-<sha256>.json`.
A local chain that lost its newest reports (directory and chain lines removed) no longer
holds what the bucket anchored, and `report verify` names what is missing. The objects are
never overwritten (one key per link), so an Object Lock refuses their deletion for the tier's
retention. A listing shows current objects: a delete marker placed on an anchor by someone
allowed to do so would hide it (listing versions would show it; not done yet).
"""

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from drills.report.store import CHAIN
from recovery.ports import ObjectStore

ANCHORS = "drill-reports/chains/"
_NAME = re.compile(r"^(\d{6})-(.+)-([0-9a-f]{64})\.json$")


@dataclass(frozen=True)
class Anchored:
    """One anchored link: its 1-based position in the chain, its id and the SHA-256 the chain gives it."""

    position: int
    entry_id: str
    sha256: str


def anchor_prefix(entries: Sequence[dict[str, str]]) -> str:
    """Anchors of one chain live under its first link's id (several chains may share a bucket)."""
    return f"{ANCHORS}{entries[0]['report_id']}/"


def _key(prefix: str, link: Anchored) -> str:
    return f"{prefix}{link.position:06d}-{link.entry_id}-{link.sha256}.json"


def read_anchors(store: ObjectStore, entries: Sequence[dict[str, str]]) -> list[Anchored]:
    """What the bucket anchored for this chain, by position."""
    if not entries:
        return []
    prefix = anchor_prefix(entries)
    found = []
    for stored in store.list(prefix):
        match = _NAME.match(stored.key[len(prefix):])
        if match:
            found.append(Anchored(int(match.group(1)), match.group(2), match.group(3)))
    return sorted(found, key=lambda link: (link.position, link.entry_id))


def anchor_chain(store: ObjectStore, entries: Sequence[dict[str, str]], *, retain_until: datetime,
                 now: datetime) -> int:
    """Anchor every link of the local chain the bucket does not hold yet; returns how many were added."""
    if not entries:
        return 0
    prefix = anchor_prefix(entries)
    held = set(read_anchors(store, entries))
    added = 0
    for position, entry in enumerate(entries, 1):
        link = Anchored(position, entry["report_id"], entry["sha256"])
        if link in held:
            continue
        body = {"position": position, "report_id": link.entry_id, "sha256": link.sha256,
                "kind": entry.get("kind", "report"), "anchored_at": now.isoformat()}
        store.put_bytes(_key(prefix, link), json.dumps(body, sort_keys=True).encode(), retain_until=retain_until)
        added += 1
    return added


def anchor_problems(entries: Sequence[dict[str, str]], anchored: Sequence[Anchored]) -> list[str]:
    """Each anchored link the local chain does not hold at its position: truncation or rewriting. Pure."""
    problems = []
    for link in anchored:
        if link.position > len(entries):
            problems.append(f"report {link.entry_id} is missing: the DR bucket anchored it as entry {link.position} "
                            f"of the chain, but {CHAIN} ends at entry {len(entries)} (the chain was truncated)")
            continue
        local = entries[link.position - 1]
        if (local["report_id"], local["sha256"]) != (link.entry_id, link.sha256):
            problems.append(f"{CHAIN} entry {link.position} is {local['report_id']}, but the DR bucket anchored "
                            f"{link.entry_id} (SHA-256 {link.sha256[:12]}…) there (the chain was rewritten)")
    return problems
