"""`crmdr restore`: a recovery point (base backup + archived WAL) onto a named host (recovery/runbooks/restore.py)."""

from pathlib import Path

import typer

from crmdr.commands.options import InventoryOption, JsonOption, PolicyOption, inventory_path
from crmdr.commands.runbooks import Discard, DryRun, JournalDir, Resume, Yes, options_from, show


def restore(
    point: str | None = typer.Option(None, "--id", help="Recovery point id (see `crmdr backup list`)."),
    to_time: str | None = typer.Option(
        None, "--to-time", metavar="T",
        help="Recover to this time, ISO-8601 (e.g. 2026-11-24T15:30:00+01:00; a time without a zone is UTC). "
             "Default: the end of the archived WAL."),
    target: str | None = typer.Option(None, "--target", metavar="NAME",
                                      help="Database node of the inventory to restore onto (e.g. standby)."),
    latest: bool = typer.Option(False, "--latest", help="The newest physical point (finished before --to-time)."),
    dry_run: bool = DryRun,
    yes: bool = Yes,
    resume: str | None = Resume,
    discard: str | None = Discard,
    inventory: Path | None = InventoryOption,
    journal_dir: Path | None = JournalDir,
    policy: Path | None = PolicyOption,
    json_out: bool = JsonOption,
) -> None:
    """Restore a physical recovery point and its archived WAL onto a host, to a point in time.

    Refuses (exit 3) a target running as a primary. The target ends as a standalone primary on a
    new timeline; its previous data directory is kept aside; DNS is not moved; WAL archiving is
    off on it until `crmdr backup wal install`.
    """
    from policies.errors import ConfigError
    from recovery.backups.pitr import parse_time
    from recovery.inventory import load_inventory
    from recovery.runbooks.restore import run_restore

    if resume is None and (point is None) == (not latest):
        raise ConfigError("give exactly one of --id ID or --latest")
    if resume is None and not target:
        raise ConfigError("--target is required: the database node to restore onto (e.g. standby)")
    if to_time is not None:
        parse_time(to_time)
    given = [("--id", point), ("--target", target), ("--to-time", to_time)]
    words = " ".join(["restore", *(f"{flag} {value}" for flag, value in given if value),
                      *(["--latest"] if latest else [])])
    options = options_from(words, inventory, dry_run=dry_run, resume=resume, discard=discard, yes=yes,
                           target=target, journal_dir=journal_dir, policy=policy, drill=False, json_out=json_out,
                           point=point, to_time=to_time)
    result, evidence = run_restore(load_inventory(inventory_path(inventory)), options)
    show(result, json_out, {"evidence": evidence})
