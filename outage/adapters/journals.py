"""Runbook and watch journals for the review: the local journal directory, then the DR bucket's mirror.

A run found in both is read locally (the local file is the source of truth while a run lives);
a torn last line (a crash mid-write) is skipped.
"""

import json
import logging
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from policies.errors import DrError
from recovery.adapters.s3_store import S3ObjectStore
from recovery.inventory import Inventory

log = logging.getLogger(__name__)
MIRROR_PREFIX = "runs/"


def parse_journal(text: str) -> list[dict[str, Any]]:
    events = []
    for line in text.splitlines():
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(event, dict) and event.get("wall"):
            events.append(event)
    return events


class Journals:
    """JournalSource over a directory and (when given an inventory) the DR bucket's `runs/`."""

    def __init__(self, directory: Path, inventory: Inventory | None = None) -> None:
        self._directory = directory
        self._inventory = inventory

    def runs(self) -> Iterator[tuple[str, Sequence[Mapping[str, Any]]]]:
        seen: set[str] = set()
        if self._directory.is_dir():
            for path in sorted(self._directory.glob("*.jsonl")):
                seen.add(path.stem)
                yield path.stem, parse_journal(path.read_text(encoding="utf-8", errors="replace"))
        if self._inventory is None:
            return
        try:
            store = S3ObjectStore(self._inventory)
            for item in store.list(MIRROR_PREFIX):
                run = item.key.rsplit("/", 1)[-1].removesuffix(".jsonl")
                if run not in seen and item.key.endswith(".jsonl"):
                    yield run, parse_journal(store.get_bytes(item.key).decode("utf-8", "replace"))
        except DrError as err:
            log.warning("journal mirror in the DR bucket not read: %s", err)
