"""Composition: checklist confirmations as journal events, one journal per incident (mirrored to the DR bucket).

The journal is the run journal every runbook writes (`checklist-<incident>.jsonl`), so a
confirmation has the same wall and monotonic times, the same mirror and the same drill mark.
"""

from datetime import datetime
from pathlib import Path

from policies.checklist import Checklist, Confirmation
from policies.errors import DrError
from recovery.adapters.clock import SystemClock
from recovery.adapters.s3_store import S3ObjectStore
from recovery.inventory import Inventory
from recovery.ports import Clock
from recovery.runbooks.journal.files import Journal, read_events

RUNBOOK = "checklist"
PREFIX = "confirmed by "


def run_id(incident: str) -> str:
    return f"{RUNBOOK}-{incident}"


def confirm(inventory: Inventory, checklist: Checklist, incident: str, item: str, by: str, journal_dir: Path, *,
            drill: bool = False, clock: Clock | None = None) -> Confirmation:
    """Journal that `by` did `item` for `incident`, now."""
    checklist.item(item)  # ConfigError names the known ids
    journal = Journal(run_id(incident), RUNBOOK, journal_dir, clock or SystemClock(), mirror=S3ObjectStore(inventory),
                      drill=drill)
    event = journal.record(item, "succeeded", reason=f"{PREFIX}{by}", phase="communicate")
    journal.flush()
    return Confirmation(item, by, datetime.fromisoformat(event.wall))


def confirmations(inventory: Inventory, incident: str, journal_dir: Path) -> list[Confirmation]:
    """Every confirmation for `incident`, from the local journal, else its DR-bucket mirror; none yet: []."""
    try:
        events = read_events(run_id(incident), journal_dir, S3ObjectStore(inventory))
    except DrError:
        return []
    return [Confirmation(e.step, e.reason.removeprefix(PREFIX), datetime.fromisoformat(e.wall))
            for e in events if e.status == "succeeded" and e.reason.startswith(PREFIX)]
