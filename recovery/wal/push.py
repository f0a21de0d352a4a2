"""PostgreSQL's archive_command: push one WAL file to the DR-region bucket.

    archive_command = 'PYTHON -m recovery.wal_push --inventory FILE %p %f'

Runs as the PostgreSQL OS user with the data directory as working directory. Exit 0 only
once the file is stored (encrypted, locked for the tier's retention, its SHA-256 in its
metadata) or already stored with the same content; anything else exits non-zero so
PostgreSQL keeps the segment and retries. A different file under the same name is never
overwritten (another cluster or a fork).

By default the command is a thin client of the archiver (`recovery.wal.archiver`, started
on demand, one per spool): it asks for the file in the spool and waits for the archiver's
ack, which names the stored SHA-256; the ack counts only when it matches the file's bytes.
The archiver uploads every ready segment in parallel, so PostgreSQL's later calls usually
find their ack already written. `--direct` uploads in this process (the old way: a process,
inventory and S3 client per file), for hosts that cannot keep a background process.
"""

import argparse
import hashlib
import logging
import sys
from pathlib import Path

from recovery.wal import daemon

log = logging.getLogger("crmdr.wal_push")
WAIT = 600.0  # seconds one call waits for its ack (PostgreSQL retries after a failure)
SPOOL = "crmdr-wal-spool"


def spool_dir(inventory_file: Path, given: Path | None) -> Path:
    """Next to the inventory on the host (outside the data directory, so no base backup holds it)."""
    spool = given or inventory_file.resolve().parent / SPOOL
    for sub in ("", "want", "ok", "failed"):
        (spool / sub).mkdir(mode=0o700, exist_ok=True)
    return spool


def _ack(spool: Path, name: str, data: bytes) -> str | None:
    """'ok' when the spool holds an ack for exactly these bytes; a failure's text; None: not yet."""
    from recovery.wal.spool import ack_reason

    failed = spool / "failed" / name
    if failed.exists():
        text = failed.read_text(errors="replace").strip()
        failed.unlink(missing_ok=True)
        return text or "the archiver failed"
    try:
        record = (spool / "ok" / name).read_text()
    except FileNotFoundError:
        return None
    reason = ack_reason(record, hashlib.sha256(data).hexdigest(), len(data))
    if reason is None:
        return "ok"
    (spool / "ok" / name).unlink(missing_ok=True)  # stale (a rewound cluster): ask again
    log.warning("%s: %s; asking the archiver again", name, reason)
    return None


def push_spooled(inventory_file: Path, path: Path, name: str, spool: Path, *, timeout: float = WAIT) -> str:
    """Hand the file to the archiver and wait for its ack; raises OSError when none comes."""
    data = path.read_bytes()
    if _ack(spool, name, data) == "ok":
        return "already acknowledged"
    daemon.write_atomic(spool / "want" / name, str(path.resolve()))
    args = ["--inventory", str(inventory_file.resolve()), "--spool", str(spool)]

    def start() -> bool:
        return daemon.ensure_helper(spool, "recovery.wal.archiver", args)

    start()
    answer = daemon.wait_for(lambda: _ack(spool, name, data), start, timeout)
    if answer is None:
        raise OSError(f"no ack from the archiver within {timeout:g}s or it does not start (see {spool / daemon.LOG})")
    if answer != "ok":
        raise OSError(answer)
    return "stored"


def push(inventory_file: Path, path: Path, name: str) -> str:
    """Store one WAL file from this process; returns what was done (stored / already archived)."""
    from recovery.wal.archiver import Uploader

    return Uploader.open(inventory_file).store_file(path, name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="recovery.wal_push", description=__doc__.splitlines()[0])
    parser.add_argument("--inventory", type=Path, required=True)
    parser.add_argument("--check", action="store_true", help="Only load the inventory and exit.")
    parser.add_argument("--direct", action="store_true", help="Upload in this process, without the archiver.")
    parser.add_argument("--spool", type=Path, help=f"The archiver's spool (default: {SPOOL} next to the inventory).")
    parser.add_argument("path", type=Path, nargs="?", help="%%p: the file, relative to the data dir")
    parser.add_argument("name", nargs="?", help="%%f: the file name")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="crmdr wal_push: %(message)s", stream=sys.stderr)
    from policies.errors import DrError

    try:
        if args.check:
            from recovery.inventory import load_inventory

            load_inventory(args.inventory)
            spool_dir(args.inventory, args.spool)
            return 0
        if args.path is None or args.name is None:
            parser.error("expected %p and %f")
        if args.direct:
            done = push(args.inventory, args.path, args.name)
        else:
            done = push_spooled(args.inventory, args.path, args.name, spool_dir(args.inventory, args.spool))
        log.info("%s %s", args.name, done)
    except (DrError, OSError) as err:
        log.error("%s: %s", args.name, err)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
