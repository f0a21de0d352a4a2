"""`crmdr backup run | list | verify | wal`: recovery points in the DR-region bucket."""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer

from crmdr.commands.options import InventoryOption, JsonOption, inventory_path
from crmdr.output import emit_json, say

app = typer.Typer(help="Off-site recovery points: take, list, verify; WAL archiving.",
                  no_args_is_help=True)
wal_app = typer.Typer(help="Continuous WAL archiving to the DR-region bucket.", no_args_is_help=True)
app.add_typer(wal_app, name="wal")


def _context(inventory: Path | None) -> tuple[Any, Any, Any]:
    from policies.sla import load_policy
    from recovery.adapters.s3_store import S3ObjectStore
    from recovery.inventory import load_inventory

    loaded = load_inventory(inventory_path(inventory))
    tier = load_policy(None).tier(loaded.sla_tier)
    return loaded, tier, S3ObjectStore(loaded, lock_mode=tier.object_lock_mode)


@contextmanager
def _progress(enabled: bool, what: str, total: int | None) -> Iterator[Callable[[int], None] | None]:
    """A rich progress bar of bytes on a terminal; nothing otherwise."""
    import sys

    if not enabled or not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import DownloadColumn, Progress, TransferSpeedColumn

    with Progress(*Progress.get_default_columns(), DownloadColumn(), TransferSpeedColumn(),
                  console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(what, total=total or None)
        yield lambda n: bar.advance(task, n)


@app.command("run")
def run(
    kind: str = typer.Option("physical", "--kind", help="physical (pg_basebackup) or logical (pg_dump)."),
    inventory: Path | None = InventoryOption,
    json_out: bool = JsonOption,
) -> None:
    """Take a recovery point, streamed into the DR-region bucket (SSE-KMS, Object Lock)."""
    from recovery.backup import estimate, run_backup, source

    loaded, tier, store = _context(inventory)
    if kind not in ("physical", "logical"):
        from policies.errors import ConfigError

        raise ConfigError(f"--kind must be physical or logical, got '{kind}'")
    total = None if json_out else estimate(source(loaded), kind)  # type: ignore[arg-type]
    with _progress(not json_out, f"backup {kind}", total) as progress:
        point = run_backup(loaded, tier, store, kind, progress=progress)  # type: ignore[arg-type]
    if json_out:
        emit_json({"id": point.id, "kind": point.kind, "size": point.size,
                   "manifest": f"{store.prefix}points/{point.id}/manifest.json",
                   "objects": [o.model_dump() for o in point.objects],
                   "start_lsn": point.start_lsn, "stop_lsn": point.stop_lsn,
                   "retain_until": point.retain_until})
    else:
        say(f"recovery point [bold]{point.id}[/bold]: {point.size} bytes in "
            f"{len(point.objects)} object(s), LSN {point.start_lsn}..{point.stop_lsn}, "
            f"locked until {point.retain_until:%Y-%m-%d}")
