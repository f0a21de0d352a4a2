"""Restore-test of a physical point together with its archived WAL: a listing proves nothing.

Phase 1 recovers the base backup through `restore_command` (the restore queue) up to the
point's stop LSN and pauses there, read-only: the table digests are compared at exactly the
state the manifest describes. Phase 2 restarts without a target, replays every archived
segment to the end of the archive and promotes (inside the scratch server, which archives
nothing); then the CRM invariants and amcheck run on the newest state, and the replay must
have reached the newest archived segment (a corrupt or missing segment stops it earlier).
"""

import shlex
import sys
import time

from tenacity import Retrying, retry_if_result, stop_after_delay, wait_fixed

from policies.errors import HostError
from recovery.adapters.pg_validation import validate
from recovery.adapters.scratch_pg import Scratch
from recovery.backups.manifest import RecoveryPoint
from recovery.inventory import Inventory
from recovery.wal.segments import Chain, segment_of
from recovery.wal.spool import restore_command

REPLAY_TIMEOUT = 900.0


def recovery_settings(python: str, inventory_file: str, target_lsn: str | None) -> dict[str, str]:
    """Shell-quoted `-c` values for an archive recovery from the bucket."""
    settings = {"restore_command": shlex.quote(restore_command(python, inventory_file)),
                "recovery_target_timeline": "latest"}
    if target_lsn:
        settings |= {"recovery_target_lsn": shlex.quote(target_lsn), "recovery_target_action": "pause"}
    return settings


def _wait(box: Scratch, dbname: str, query: str, what: str, timeout: float) -> None:
    def holds() -> bool:
        with box.connect(dbname) as conn:
            row = conn.execute(query).fetchone()
        return bool(row and row[0])

    retrying = Retrying(stop=stop_after_delay(timeout), wait=wait_fixed(0.2),
                        retry=retry_if_result(lambda done: not done), retry_error_callback=lambda _: False)
    if not retrying(holds):
        raise HostError(f"the scratch server did not {what} within {timeout:g}s: {box.log_tail()}")


def restore_with_wal(inventory: Inventory, point: RecoveryPoint, box: Scratch, chain: Chain,
                     evidence: dict[str, object], timeout: float = REPLAY_TIMEOUT) -> list[str]:
    """Both phases; reasons (empty: the point and the WAL after it restore and validate)."""
    dbname = inventory.database.name
    inventory_file = box.private_dir("wal") / "inventory.json"  # restore_command's queue goes next to it
    inventory_file.write_text(inventory.to_json())
    inventory_file.chmod(0o644)
    began = time.monotonic()
    box.start(recovery_settings(sys.executable, str(inventory_file), point.stop_lsn))
    _wait(box, dbname, "SELECT pg_get_wal_replay_pause_state() = 'paused'", "reach the stop LSN", timeout)
    evidence["restore_seconds"] = round(time.monotonic() - began, 3)
    reasons = validate(lambda: box.connect(dbname), point.tables or None, point.tables_unstable)
    box.stop()
    if reasons:
        return reasons
    began = time.monotonic()
    box.start(recovery_settings(sys.executable, str(inventory_file), None))
    _wait(box, dbname, "SELECT NOT pg_is_in_recovery()", "finish replaying the archive", timeout)
    evidence["wal_replay_seconds"] = round(time.monotonic() - began, 3)
    with box.connect(dbname) as conn:
        row = conn.execute("SELECT pg_last_wal_replay_lsn()::text").fetchone()
    reasons = validate(lambda: box.connect(dbname), None)
    replayed = str(row[0]) if row else "0/0"
    evidence["wal_replayed_to"] = replayed
    return reasons + _short_replay(replayed, point, chain)


def _short_replay(replayed: str, point: RecoveryPoint, chain: Chain) -> list[str]:
    if chain.last is None:
        return []
    reached = segment_of(replayed, point.cluster.timeline)
    if reached.number < chain.last.number:
        return [f"WAL replay stopped at {replayed}, before the newest archived segment "
                f"wal/{chain.last.name()} (a segment in between is corrupt or missing)"]
    return []
