"""PostgreSQL's archive_command: push one WAL file to the DR-region bucket.

    archive_command = 'PYTHON -m recovery.wal_push --inventory FILE %p %f'

Runs as the PostgreSQL OS user with the data directory as working directory. Exit 0 only
once the file is stored (encrypted, locked for the tier's retention) or already stored with
the same content; anything else exits non-zero so PostgreSQL keeps the segment and retries.
A different file under the same name is never overwritten (another cluster or a fork).
"""

import argparse
import hashlib
import logging
import sys
from pathlib import Path

from policies.errors import DrError
from policies.sla import load_policy
from recovery.inventory import inventory_tier, load_inventory
from recovery.wal.segments import wal_key

log = logging.getLogger("crmdr.wal_push")


def push(inventory_file: Path, path: Path, name: str) -> str:
    """Store one WAL file; returns what was done (stored / already archived)."""
    from recovery.adapters.clock import SystemClock
    from recovery.adapters.s3_store import S3ObjectStore

    inventory = load_inventory(inventory_file)
    tier = inventory_tier(inventory, load_policy(None))
    store = S3ObjectStore(inventory, lock_mode=tier.object_lock_mode)
    data = path.read_bytes()
    key = wal_key(name)
    existing = store.head(key)
    if existing is not None:
        if existing.size == len(data) and \
                hashlib.sha256(store.get_bytes(key)).digest() == hashlib.sha256(data).digest():
            return "already archived"
        raise DrError(f"{key} already exists with different content; refusing to overwrite")
    store.put_bytes(key, data, retain_until=SystemClock().now() + tier.retention)
    return "stored"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="recovery.wal_push", description=__doc__.splitlines()[0])
    parser.add_argument("--inventory", type=Path, required=True)
    parser.add_argument("--check", action="store_true", help="Only load the inventory and exit.")
    parser.add_argument("path", type=Path, nargs="?", help="%%p: the file, relative to the data dir")
    parser.add_argument("name", nargs="?", help="%%f: the file name")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="crmdr wal_push: %(message)s", stream=sys.stderr)
    try:
        if args.check:
            load_inventory(args.inventory)
            return 0
        if args.path is None or args.name is None:
            parser.error("expected %p and %f")
        log.info("%s %s", args.name, push(args.inventory, args.path, args.name))
    except (DrError, OSError) as err:
        log.error("%s: %s", args.name, err)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
