"""What every benchmark shares: its own lab (own loopback block and directory), sizes, timing.

A benchmark never touches a developer's lab: it brings one up on 127.0.$CRMDR_BENCH_NET.x
(default: $CRMDR_TEST_NET, else 100) in a fresh /tmp directory and purges it afterwards.
"""

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from benchmarks.table import Row
from drills.lab.lab import down, up
from drills.lab.settings import LabSettings
from recovery.inventory import Inventory

ROWS_PER_GB = 290_000  # accounts (+ 3/2/1/5 children each): 470,000 made a 1.6 GiB base.tar
QUICK_GB = 0.05


def net() -> int:
    return int(os.environ.get("CRMDR_BENCH_NET") or os.environ.get("CRMDR_TEST_NET") or "100")


def options(description: str, argv: Sequence[str] | None) -> argparse.Namespace:
    """--size-gb (default 1, or 0.05 with BENCH_QUICK=1) and --repeat."""
    quick = os.environ.get("BENCH_QUICK", "") not in ("", "0")
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--size-gb", type=float, default=QUICK_GB if quick else 1.0,
                        help="CRM database size of the benchmark's lab")
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure (median/min/max)")
    return parser.parse_args(list(argv or []))


@dataclass
class BenchLab:
    dir: Path
    inventory: Inventory

    @property
    def inventory_path(self) -> Path:
        return self.dir / "inventory.json"


@contextmanager
def lab(slot: int, size_gb: float, **overrides: object) -> Iterator[BenchLab]:
    """A lab of about `size_gb` on 127.0.NET.(10*slot+0..2), other LabSettings from `overrides`; always purged."""
    directory = Path(tempfile.mkdtemp(prefix="crmdr-bench-lab-", dir="/tmp"))
    directory.chmod(0o755)
    base = f"127.0.{net()}.{10 * slot}"
    settings = LabSettings(aws_ip=base, primary_ip=f"127.0.{net()}.{10 * slot + 1}",
                           standby_ip=f"127.0.{net()}.{10 * slot + 2}",
                           rows=max(100, int(size_gb * ROWS_PER_GB)), **overrides)
    if threading.current_thread() is threading.main_thread():  # `timeout`/kill: still purge the lab
        signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    try:
        yield BenchLab(directory, up(directory, settings, lambda step: print(f"   lab: {step}", flush=True)))
    except BaseException:
        log = directory / "aws" / "moto.log"
        if log.exists():  # the stand-in's side of a failure, before the lab is purged
            print("".join(log.read_text(errors="replace").splitlines(keepends=True)[-30:]), file=sys.stderr)
        raise
    finally:
        try:
            if (directory / "lab.json").exists():
                down(directory, purge=True)
        finally:
            shutil.rmtree(directory, ignore_errors=True)


def timed(action: Callable[[], object]) -> float:
    began = time.monotonic()
    action()
    return time.monotonic() - began


def sh(command: Sequence[str], env: dict[str, str] | None = None, ok: Sequence[int] = (0,)) -> str:
    """Run a command; SystemExit with its stderr's tail on another exit code (the benchmark cannot go on)."""
    done = subprocess.run(list(command), capture_output=True, text=True, env={**os.environ, **(env or {})})
    if done.returncode not in ok:
        raise SystemExit(f"{' '.join(map(str, command[:3]))} failed: {(done.stderr or done.stdout).strip()[-400:]}")
    return str(done.stdout)


def print_rows(rows: Sequence[Row]) -> None:
    for r in rows:
        ratio = f"ratio {r.ratio:.2f}" if r.ratio is not None else ""
        verdict = {True: "met", False: "NOT met", None: ""}[r.met]
        base = f" vs {r.baseline} {r.baseline_median:.3f}" if r.baseline_median is not None else ""
        print(f"  {r.name:<44} {r.median:8.3f} s [{r.min:.3f}..{r.max:.3f}]{base} {ratio} "
              f"{r.goal} {verdict}".rstrip(), flush=True)
