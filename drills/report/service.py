"""The report chain wired to the DR bucket: anchored after each drill, checked by `report verify`."""

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from drills.report.anchor import anchor_chain, anchor_prefix, anchor_problems, read_anchors
from drills.report.store import read_chain
from policies.errors import CloudError
from recovery.inventory import Inventory, load_inventory
from recovery.ports import ObjectStore


@dataclass(frozen=True)
class AnchorCheck:
    """What the bucket's anchor says about a local chain; `checked` False says why not in `where`."""

    checked: bool
    where: str
    anchored: int = 0
    unanchored: int = 0
    problems: list[str] = field(default_factory=list)


def _store(inventory: Inventory, lock_mode: str | None = None) -> ObjectStore:
    from recovery.adapters.s3_store import S3ObjectStore

    return S3ObjectStore(inventory, lock_mode=lock_mode)


def anchor_reports(out_dir: Path, inventory: Inventory, *, lock_mode: str, retain_until: datetime,
                   now: datetime) -> int:
    """Anchor the chain's links the bucket does not hold yet (the new report, and any before it)."""
    return anchor_chain(_store(inventory, lock_mode), read_chain(out_dir)[0], retain_until=retain_until, now=now)


def check_anchor(out_dir: Path, inventory_path: Path | None) -> AnchorCheck:
    """Compare the local chain with the bucket's anchors, or say plainly why that was not possible."""
    if inventory_path is None or not inventory_path.exists():
        return AnchorCheck(False, "no inventory to find the DR bucket (give --inventory FILE or set "
                                  "$CRMDR_INVENTORY)")
    inventory = load_inventory(inventory_path)
    entries = read_chain(out_dir)[0]
    if not entries:
        return AnchorCheck(False, f"{out_dir}: the chain is empty")
    where = f"s3://{inventory.backup.bucket}/{inventory.backup.prefix}{anchor_prefix(entries)}"
    try:
        anchored = read_anchors(_store(inventory), entries)
    except CloudError as err:
        return AnchorCheck(False, f"the DR bucket did not answer ({err})")
    head = max((link.position for link in anchored), default=0)
    return AnchorCheck(True, where, len(anchored), max(0, len(entries) - head), anchor_problems(entries, anchored))
