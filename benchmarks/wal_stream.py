"""RPO of the backup path: a commit until its bytes are in the bucket, streaming vs archive_command (same run).

    .venv/bin/python -m benchmarks.wal_stream [--samples 5]

On the benchmark's own lab, with archiving installed (`crmdr backup wal install`) and
`archive_timeout = 10s`, and `crmdr backup wal stream --partial-every 1s` running at the same
time (so streamed segments meet the archived ones: the same bytes must be accepted). For each
sample: one commit, then the seconds until the bucket holds its WAL position through the
streamed partial chunks (`wal-partial/`), and until its segment is archived (`wal/<name>`).
"""

import argparse
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from benchmarks._lab import lab, print_rows, sh
from benchmarks.table import Row, row
from benchmarks.wal import CRMDR, Primary
from recovery.adapters.s3_store import S3ObjectStore
from recovery.inventory import load_inventory
from recovery.wal.segments import wal_key
from recovery.wal.streaming import partial_prefix

ARCHIVE_TIMEOUT = 10
GOAL = 2.0  # seconds, median
WAIT = 60.0


def covered(store: S3ObjectStore, name: str) -> int:
    """Bytes of segment `name` the streamed chunks hold (from the listing: chunk start + size)."""
    return max((int(o.key.rsplit("/", 1)[1], 16) + o.size for o in store.list(partial_prefix(f"{name}.partial"))),
               default=0)


def sample(primary: Primary, store: S3ObjectStore) -> tuple[float, float]:
    """(streamed, archived) seconds from one commit until the bucket holds it."""
    primary.sql("INSERT INTO bench_stream VALUES (now()) RETURNING at")
    name, offset = primary.sql("SELECT file_name, file_offset FROM pg_walfile_name_offset(pg_current_wal_lsn())")
    started = time.monotonic()
    streamed = archived = None
    while streamed is None or archived is None:
        elapsed = time.monotonic() - started
        if elapsed > WAIT:
            raise SystemExit(f"segment {name} offset {offset} not in the bucket within {WAIT:g} s")
        if streamed is None and covered(store, name) >= offset:
            streamed = elapsed
        if archived is None and store.head(wal_key(name)) is not None:
            archived = elapsed
        time.sleep(0.05)
    return streamed, archived


def measure(bench_path: Path, samples: int, work: Path) -> list[Row]:
    inventory = load_inventory(bench_path)
    primary, store = Primary(inventory, bench_path), S3ObjectStore(inventory)
    sh([*CRMDR, "backup", "wal", "install", "--inventory", str(bench_path)])
    with primary.connect() as conn:
        conn.execute(f"ALTER SYSTEM SET archive_timeout = '{ARCHIVE_TIMEOUT}s'")
        conn.execute("SELECT pg_reload_conf()")
        conn.execute("CREATE TABLE bench_stream (at timestamptz)")
    streamer = subprocess.Popen([*CRMDR, "backup", "wal", "stream", "--inventory", str(bench_path), "--dir",
                                 str(work / "stream"), "--partial-every", "1s"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(3)  # pg_receivewal connected and its slot active
        found = [sample(primary, store) for _ in range(samples)]
    finally:
        streamer.send_signal(signal.SIGTERM)
        _, err = streamer.communicate(timeout=60)
    if streamer.returncode != 128 + signal.SIGTERM:
        raise SystemExit(f"wal stream exited {streamer.returncode}: {err.strip()[-400:]}")
    for streamed, archived in found:
        print(f"   commit in the bucket: streamed {streamed:.2f} s, archived {archived:.2f} s", flush=True)
    return [row(f"WAL RPO: commit to bucket, wal stream --partial-every 1s ({samples} commits)",
                [s for s, _ in found], f"archive_command, archive_timeout {ARCHIVE_TIMEOUT}s",
                [a for _, a in found], f"median < {GOAL:g} s", GOAL, on="median")]


def run(argv: Sequence[str] | None = None) -> list[Row]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=5, help="commits measured")
    opts = parser.parse_args(list(argv or []))
    with lab(4, 0.0) as bench, tempfile.TemporaryDirectory(prefix="crmdr-bench-stream-") as work:
        return measure(bench.inventory_path, opts.samples, Path(work))


def main(argv: list[str] | None = None) -> int:
    print_rows(run(argv))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
