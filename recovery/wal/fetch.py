"""PostgreSQL's restore_command: fetch one archived WAL file from the DR-region bucket.

    restore_command = 'PYTHON -m recovery.wal_fetch --inventory FILE %f %p'

Exit 0 once the file is written to %p; non-zero when it is not archived (PostgreSQL reads
that as the end of the archive) or cannot be fetched.
"""

import argparse
import logging
import sys
from pathlib import Path

from policies.errors import DrError
from recovery.inventory import load_inventory
from recovery.wal.segments import wal_key

log = logging.getLogger("crmdr.wal_fetch")


def fetch(inventory_file: Path, name: str, target: Path) -> None:
    from recovery.adapters.s3_store import S3ObjectStore

    store = S3ObjectStore(load_inventory(inventory_file), lock_mode="GOVERNANCE")
    partial = target.with_name(target.name + ".crmdr-partial")
    try:
        with partial.open("wb") as out:
            for chunk in store.iter_chunks(wal_key(name)):
                out.write(chunk)
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="recovery.wal_fetch", description=__doc__.splitlines()[0])
    parser.add_argument("--inventory", type=Path, required=True)
    parser.add_argument("name", help="%%f: the WAL file name")
    parser.add_argument("target", type=Path, help="%%p: where PostgreSQL wants it")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="crmdr wal_fetch: %(message)s", stream=sys.stderr)
    try:
        fetch(args.inventory, args.name, args.target)
    except (DrError, OSError) as err:
        log.info("%s: %s", args.name, err)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
