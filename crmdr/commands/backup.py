"""`crmdr backup run | list | verify | wal`: recovery points in the DR-region bucket."""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer

from crmdr.commands.options import InventoryOption, JsonOption, inventory_path
from crmdr.output import emit_json, say, ticking
from policies.sizes import format_bytes
from recovery.backups.compression import DEFAULT as DEFAULT_COMPRESSION

app = typer.Typer(help="Off-site recovery points: take, list, verify; WAL archiving.",
                  no_args_is_help=True)
wal_app = typer.Typer(help="Continuous WAL archiving to the DR-region bucket.", no_args_is_help=True)
app.add_typer(wal_app, name="wal")


def _context(inventory: Path | None) -> tuple[Any, Any, Any]:
    from policies.sla import load_policy
    from recovery.adapters.s3_store import S3ObjectStore
    from recovery.inventory import inventory_tier, load_inventory

    loaded = load_inventory(inventory_path(inventory))
    tier = inventory_tier(loaded, load_policy(None))
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
    kind: str = typer.Option("physical", "--kind", help="physical (pg_basebackup) or logical (pg_dump); "
                             "ignored for engine rds (snapshot + copy into the DR region)."),
    compress: str = typer.Option(DEFAULT_COMPRESSION, "--compress", help="How the point's bytes are stored: zstd, lz4 "
                                 "or none (zstd: fastest and smallest here, see docs/performance.md)."),
    from_role: str = typer.Option("primary", "--from", help="Stream from the primary or the standby "
                                  "(the primary then pays nothing; needs hot_standby_feedback)."),
    inventory: Path | None = InventoryOption,
    json_out: bool = JsonOption,
) -> None:
    """Take a recovery point, streamed into the DR-region bucket (SSE-KMS, Object Lock)."""
    from recovery.backups.compression import parse_compression
    from recovery.backups.take import estimate, run_backup, source

    compression = parse_compression(compress)
    loaded, tier, store = _context(inventory)
    if kind not in ("physical", "logical"):
        from policies.errors import ConfigError

        raise ConfigError(f"--kind must be physical or logical, got '{kind}'")
    if loaded.database.engine == "rds":
        from recovery.adapters.clock import SystemClock
        from recovery.adapters.rds import RdsSnapshots
        from recovery.backups.rds_backup import run_rds_backup

        point = run_rds_backup(loaded, tier, store, RdsSnapshots(loaded), SystemClock())
    else:
        src = source(loaded, from_role)  # type: ignore[arg-type]
        total = None if json_out else estimate(src, kind)  # type: ignore[arg-type]
        try:
            with _progress(not json_out, f"backup {kind}", total) as progress:
                point = run_backup(loaded, tier, store, kind, progress=progress,  # type: ignore[arg-type]
                                   compression=compression, role=src.role)
        except KeyboardInterrupt as err:
            from policies.errors import interrupted

            stop = interrupted(err)
            raise stop.with_message(
                f"backup run interrupted by {stop.signal_name}: no recovery point was recorded (no manifest); "
                "an unfinished multipart upload of it is aborted on the way out; whatever it left shows as an "
                "orphan in `crmdr backup list` and goes with `crmdr backup prune` once Object Lock allows; "
                "run `crmdr backup run` again") from None
    if json_out:
        emit_json({"id": point.id, "kind": point.kind, "size": point.size,  # keys relative to the prefix
                   "bucket": store.bucket, "prefix": store.prefix, "manifest": f"points/{point.id}/manifest.json",
                   "objects": [o.model_dump() for o in point.objects],
                   "start_lsn": point.start_lsn, "stop_lsn": point.stop_lsn,
                   "compression": point.compression, "taken_from": point.taken_from,
                   "retain_until": point.retain_until, "snapshot_arn": point.snapshot_arn})
    elif point.snapshot_arn:
        say(f"recovery point [bold]{point.id}[/bold]: snapshot {point.snapshot_arn}, "
            f"locked manifest until {point.retain_until:%Y-%m-%d}")
    else:
        say(f"recovery point [bold]{point.id}[/bold]: {format_bytes(point.size)} in "
            f"{len(point.objects)} object(s), LSN {point.start_lsn}..{point.stop_lsn}, "
            f"locked until {point.retain_until:%Y-%m-%d}")


@app.command("verify")
def verify(
    point: str | None = typer.Option(None, "--id", help="Recovery point id (see `backup list`)."),
    latest: bool = typer.Option(False, "--latest", help="The newest recovery point."),
    restore: bool = typer.Option(False, "--restore", help="Also restore into an isolated scratch "
                                 "server and validate (counts, checksums, CRM invariants, amcheck)."),
    inventory: Path | None = InventoryOption,
    json_out: bool = JsonOption,
) -> None:
    """Read every byte of a recovery point and prove it (exit 1 naming what failed)."""
    from policies.errors import ConfigError, VerificationFailed
    from recovery.backups.verify import latest_point_id, load_point, verify_point

    if (point is None) == (not latest):
        raise ConfigError("give exactly one of --id ID or --latest")
    loaded, _, store = _context(inventory)
    pid = point or latest_point_id(store)
    total = None if json_out else load_point(store, pid).size
    with _progress(not json_out, f"verify {pid}", total) as progress:
        verdict = verify_point(loaded, store, pid, restore=restore, progress=progress)
    if json_out:
        emit_json(verdict.model_dump(mode="json"))
    elif verdict.ok:
        what = "restored in isolation and validated" if restore else "integrity verified"
        say(f"recovery point [bold]{pid}[/bold]: [green]{what}[/green] "
            f"({verdict.evidence.get('seconds')} s)")
    if not verdict.ok:
        raise VerificationFailed(f"recovery point {pid} failed verification: " + "; ".join(verdict.reasons))


@app.command("list")
def list_points(
    inventory: Path | None = InventoryOption,
    json_out: bool = JsonOption,
) -> None:
    """Recovery points with age, size and proof; exit 1 when the newest verified one breaks the RPO."""
    from datetime import UTC, datetime

    from policies.errors import CheckFailed
    from recovery.backups.catalog import age_text, freshness_reason
    from recovery.backups.retention import find_orphans
    from recovery.backups.verify import read_catalog

    _, tier, store = _context(inventory)
    catalog = read_catalog(store)
    orphans = find_orphans(store)
    now = datetime.now(UTC)
    stale = freshness_reason(catalog, tier.rpo, now)
    wal = catalog.wal
    if json_out:
        emit_json({
            "points": [{"id": s.point.id, "kind": s.point.kind, "finished_at": s.point.finished_at,
                        "age_seconds": int((now - s.point.finished_at).total_seconds()),
                        "size": s.point.size, "state": s.state(), "verified": s.verified,
                        "restored": s.restored, "retain_until": s.point.retain_until,
                        "reasons": s.verdict.reasons if s.verdict else []} for s in catalog.points],
            "broken_manifests": catalog.broken,
            "orphans": [orphan.as_dict() for orphan in orphans],
            "wal": None if wal is None else {"segments": wal.count, "gaps": list(wal.gaps),
                                             "first": wal.first and wal.first.name(),
                                             "last": wal.last and wal.last.name()},
            "rpo_seconds": int(tier.rpo.total_seconds()), "fresh": stale is None, "reason": stale,
        })
    else:
        _print_catalog(catalog, now, age_text)
        for orphan in orphans:
            say(f"[yellow]orphan:[/yellow] {orphan.describe()} (`crmdr backup prune` removes it when allowed)")
        if not stale:
            say("[green]the newest verified recovery point is within the RPO[/green]")
    if stale:
        raise CheckFailed(stale)


def _print_catalog(catalog: Any, now: Any, age_text: Callable[[Any], str]) -> None:
    import sys

    from rich.console import Console
    from rich.table import Column, Table

    names = ("id", "kind", "age", "size", "state", "locked until")
    table = Table(*(Column(name, no_wrap=True) for name in names))
    for s in catalog.points:
        until = s.point.retain_until
        table.add_row(s.point.id, s.point.kind, age_text(now - s.point.finished_at),
                      format_bytes(s.point.size), s.state(),
                      f"{until:%Y-%m-%d}" if until else "-")
    Console(highlight=False, width=None if sys.stdout.isatty() else 120).print(table)
    for reason in catalog.broken:
        say(f"[red]unreadable:[/red] {reason}")
    wal = catalog.wal
    if wal is None:
        say("WAL archive: empty (install with `crmdr backup wal install`)")
    elif wal.gaps:
        say(f"[red]WAL chain: {wal.count} segments, gaps at {', '.join(wal.gaps)}[/red]")
    else:
        say(f"WAL chain: {wal.count} segments, {wal.first and wal.first.name()} .. "
            f"{wal.last and wal.last.name()}, no gap")


@wal_app.command("install")
def wal_install(
    python: str = typer.Option(None, "--python", help="Python on the hosts with crm-dr installed "
                               "(default: this one; it must be runnable by the PostgreSQL OS user)."),
    timeout: float = typer.Option(60, "--timeout", help="Seconds to wait for the proof segment."),
    inventory: Path | None = InventoryOption,
    json_out: bool = JsonOption,
) -> None:
    """Install the archive_command on the hosts and prove one segment reaches the bucket."""
    import sys

    from recovery.wal.archive import install

    loaded, _, store = _context(inventory)
    with ticking(not json_out) as report:
        done = install(loaded, store, python or sys.executable, timeout=timeout, report=report)
    if json_out:
        emit_json([{"node": d.node, "archive_command": d.archive_command,
                    "proven_segment": d.proven_segment} for d in done])
        return
    for d in done:
        proof = f"; segment {d.proven_segment} archived" if d.proven_segment else ""
        say(f"{d.node}: archive_command installed{proof}")


@app.command("prune")
def prune(
    dry_run: bool = typer.Option(False, "--dry-run", help="Show what retention would delete."),
    orphan_grace: str = typer.Option("6h", "--orphan-grace", metavar="DURATION",
                                     help="Keep orphans (objects without a manifest, unfinished uploads) younger "
                                          "than this: they may belong to a backup still running."),
    inventory: Path | None = InventoryOption,
    json_out: bool = JsonOption,
) -> None:
    """Delete points past the tier's retention (never the newest verified one; Object Lock respected) and
    orphans of interrupted backups (objects without a manifest, unfinished multipart uploads)."""
    from datetime import UTC, datetime

    from policies.durations import parse_duration
    from policies.errors import CheckFailed, ConfigError
    from recovery.backups.retention import prune as run_prune

    try:
        grace = parse_duration(orphan_grace)
    except ValueError as err:
        raise ConfigError(f"--orphan-grace: {err}") from None
    _, _, store = _context(inventory)
    done = run_prune(store, datetime.now(UTC), dry_run=dry_run, grace=grace)
    if json_out:
        emit_json({"kept_newest_verified": done.plan.kept, "outcomes": done.outcomes, "orphans": done.orphans,
                   "partials": done.partials})
    else:
        say(f"newest verified point kept: {done.plan.kept or 'none'}")
        for item, outcome in [*done.outcomes.items(), *done.partials.items(), *done.orphans.items()]:
            say(f"{item}: {outcome}")
        if not done.outcomes:
            say("nothing is past retention")
        if not done.orphans:
            say("no orphans (objects without a manifest, unfinished uploads)")
    kept = [item for item, outcome in [*done.outcomes.items(), *done.partials.items()] if outcome.startswith("kept")]
    if kept:
        raise CheckFailed(f"{len(kept)} item(s) could not be deleted (Object Lock or S3 refused): "
                          + ", ".join(kept))


@wal_app.command("stream")
def wal_stream(
    directory: Path = typer.Option(None, "--dir", help="Where pg_receivewal writes, on this (DR-side) machine "
                                   "(default: crmdr-wal-stream next to the inventory)."),
    partial_every: str = typer.Option("1s", "--partial-every", metavar="DURATION",
                                      help="How often the segment being received is stored (when it changed)."),
    inventory: Path | None = InventoryOption,
    json_out: bool = JsonOption,
) -> None:
    """Stream WAL from the primary (pg_receivewal, a physical slot) into the bucket until SIGTERM/SIGINT."""
    from policies.durations import parse_duration
    from policies.errors import ConfigError, interrupted
    from recovery.backups.take import source
    from recovery.inventory import HostNode
    from recovery.wal.archiver import Uploader
    from recovery.wal.streamer import SLOT, Progress, stream

    try:
        every = parse_duration(partial_every).total_seconds()
    except ValueError as err:
        raise ConfigError(f"--partial-every: {err}") from None
    if every <= 0:  # 0 would re-read and hash the whole partial segment on every poll
        raise ConfigError(f"--partial-every: expected a duration above zero, got {every:g}s")
    loaded, tier, store = _context(inventory)
    where = directory or inventory_path(inventory).resolve().parent / "crmdr-wal-stream"
    progress = Progress()
    if not json_out:
        say(f"streaming WAL from {loaded.database.primary.name} (slot {SLOT}) into s3://{store.bucket}/"
            f"{store.prefix}; partial every {every:g} s; stop with SIGTERM or Ctrl-C")
    try:
        stream(source(loaded), Uploader(store, tier), where, every, progress,
               [node for node in loaded.database.nodes() if isinstance(node, HostNode)])
    except KeyboardInterrupt as err:
        stop = interrupted(err)
        if json_out:
            emit_json({"segments": progress.segments, "partial": progress.partial,
                       "partial_bytes": progress.partial_bytes, "partial_uploads": progress.partial_uploads,
                       "slot": SLOT, "streamed_from": progress.sources, "stopped_by": stop.signal_name})
        raise stop.with_message(
            f"wal stream stopped by {stop.signal_name}: {len(progress.segments)} segment(s) stored, last partial "
            f"{progress.partial or 'none'} ({progress.partial_bytes} bytes); slot {SLOT} on "
            f"{', '.join(dict.fromkeys(progress.sources)) or 'the primary'} keeps its WAL until the stream runs "
            "again (drop it if it will not)") from None
