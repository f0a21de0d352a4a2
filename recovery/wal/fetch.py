"""PostgreSQL's restore_command: fetch one archived WAL file from the DR-region bucket.

    restore_command = 'PYTHON -m recovery.wal_fetch --inventory FILE [--queue DIR] %f %p'

Exit 0 once the file is written to %p, its SHA-256 checked against the WAL manifest (the
object's `sha256` metadata); non-zero when it is not archived (PostgreSQL reads that as the
end of the archive), cannot be fetched, or does not match its SHA-256.

By default the command is a thin client of the restore queue (`recovery.wal.restore_queue`,
started on demand): a segment the queue already downloaded and checked is moved into place at
once; otherwise the command asks for it and waits. The queue downloads the segments after the
last one served, in parallel, within a byte budget. `--direct` fetches in this process.
`recovery.wal.spool.restore_command` builds the command hosts get: it takes a queued segment in
the shell and starts this process only when the queue does not hold it yet.
"""

import argparse
import logging
import shutil
import sys
from pathlib import Path

from recovery.wal import daemon
from recovery.wal.spool import QUEUE

log = logging.getLogger("crmdr.wal_fetch")
WAIT = 600.0


def queue_dir(inventory_file: Path, given: Path | None) -> Path:
    queue = given or inventory_file.resolve().parent / QUEUE
    for sub in ("", "want", "ready", "missing", "failed"):
        (queue / sub).mkdir(mode=0o700, exist_ok=True)
    return queue


def _answer(queue: Path, name: str) -> str | None:
    """'ready' / 'missing' / a failure's text (consuming its marker); None while the queue works."""
    if (queue / "ready" / name).exists():
        return "ready"
    for kind in ("missing", "failed"):
        marker = queue / kind / name
        if marker.exists():
            text = marker.read_text(errors="replace").strip() or kind
            marker.unlink(missing_ok=True)
            return "missing" if kind == "missing" else text
    return None


def _request(inventory_file: Path, name: str, queue: Path, timeout: float) -> None:
    """Ask the queue for the file and wait until it is ready; FileNotFoundError when not archived."""
    for kind in ("missing", "failed"):
        (queue / kind / name).unlink(missing_ok=True)  # an answer to an earlier request
    daemon.write_atomic(queue / "want" / name, name)
    args = ["--inventory", str(inventory_file.resolve()), "--queue", str(queue)]

    def start() -> bool:
        return daemon.ensure_helper(queue, "recovery.wal.restore_queue", args)

    start()
    answer = daemon.wait_for(lambda: _answer(queue, name), start, timeout)
    if answer is None:
        raise OSError(f"no answer from the restore queue within {timeout:g}s or it does not start "
                      f"(see {queue / daemon.LOG})")
    if answer == "missing":
        raise FileNotFoundError(f"wal/{name} is not archived")
    if answer != "ready":
        raise OSError(answer)


def fetch_queued(inventory_file: Path, name: str, target: Path, queue: Path, *, timeout: float = WAIT) -> None:
    """Take the file from the queue (asking for it first when it is not there)."""
    for attempt in range(2):
        if attempt or not (queue / "ready" / name).exists():
            _request(inventory_file, name, queue, timeout)
        try:
            shutil.move(queue / "ready" / name, target)  # a rename on one file system
        except FileNotFoundError:
            continue  # the queue dropped it as stale in between: ask once more
        daemon.write_atomic(queue / "served", name)
        return
    raise OSError(f"the restore queue dropped {name} twice")


def fetch(inventory_file: Path, name: str, target: Path) -> None:
    """Fetch from this process, checked against the manifest's SHA-256; FileNotFoundError when not archived.

    Only this path imports the inventory model and boto3 (a quarter of a second per call): the
    queued path, run once per segment, stays on the standard library.
    """
    from policies.errors import DrError
    from recovery.ports import ObjectNotFound
    from recovery.wal.restore_queue import Downloader

    try:
        Downloader.open(inventory_file).download(name, target, partial=True)
    except ObjectNotFound as err:
        raise FileNotFoundError(str(err)) from None
    except DrError as err:
        raise OSError(str(err)) from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="recovery.wal_fetch", description=__doc__.splitlines()[0])
    parser.add_argument("--inventory", type=Path, required=True)
    parser.add_argument("--direct", action="store_true", help="Fetch in this process, without the queue.")
    parser.add_argument("--queue", type=Path, help=f"The restore queue (default: {QUEUE} next to the inventory).")
    parser.add_argument("name", help="%%f: the WAL file name")
    parser.add_argument("target", type=Path, help="%%p: where PostgreSQL wants it")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="crmdr wal_fetch: %(message)s", stream=sys.stderr)
    try:
        if args.direct:
            fetch(args.inventory, args.name, args.target)
        else:
            fetch_queued(args.inventory, args.name, args.target, queue_dir(args.inventory, args.queue))
    except FileNotFoundError as err:
        log.info("%s: %s", args.name, err)  # the end of the archive: PostgreSQL asks past it
        return 1
    except OSError as err:
        log.error("%s: %s", args.name, err)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
