"""Detection -> first public status update, as a customer polling the page's JSON sees it.

    .venv/bin/python -m benchmarks.status [--repeat 5]

Each round, on the benchmark's own lab: `crmdr watch --json` runs (watch_interval 0.5 s, 3 failures);
the primary is crashed (`pg_ctl stop -m immediate`); the watch declares the outage and publishes the
automatic "investigating" update; a client polls `<status.url>/api/v2/summary.json` every 20 ms.
Figure: the first poll that lists the incident - the declaration (the outage verdict's time), and
- the first failed probe. Baseline: `crmdr status open` run by hand at once (a person at the
keyboard the instant the outage is declared: process start, clients, append, publish). Then the
primary is started again and the incident resolved, so every round starts healthy and with no
open incident.
"""

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import httpx

from benchmarks._lab import BenchLab, lab, options, print_rows, sh
from benchmarks.rto import CRMDR, as_user, watch_policy
from benchmarks.table import Row, row
from drills.lab import postgres
from drills.lab.settings import LabPaths
from drills.lab.system import pg_bin_dir
from recovery.inventory import HostNode

GOAL = 10.0  # seconds from the declaration (issue 13)
POLL = 0.02


def first_listed(url: str, timeout: float = 60) -> float:
    """Wall time of the first poll whose summary lists an unresolved incident."""
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=2) as client:
        while time.monotonic() < deadline:
            try:
                if client.get(f"{url}/api/v2/summary.json").json()["incidents"]:
                    return time.time()
            except (httpx.HTTPError, ValueError, KeyError):
                pass
            time.sleep(POLL)
    raise SystemExit(f"no incident on {url} within {timeout:g}s")


def watch_round(bench: BenchLab, policy: Path, url: str) -> tuple[float, float]:
    """(declaration -> listed, first failed probe -> listed) in seconds."""
    process = subprocess.Popen([*CRMDR, "watch", "--json", "--inventory", str(bench.inventory_path), "--policy",
                                str(policy), "--journal-dir", str(bench.dir / "runs")],
                               stdout=subprocess.PIPE, text=True, start_new_session=True)
    try:
        assert process.stdout is not None
        line = json.loads(process.stdout.readline())
        if line.get("status") != "healthy":
            raise SystemExit(f"the watch did not start healthy: {line}")
        crash(bench)
        for text in process.stdout:
            verdict = json.loads(text)
            if verdict.get("status") == "outage":
                break
        listed = first_listed(url)
        declared = datetime.fromisoformat(verdict["at"]).timestamp()
        first_failure = datetime.fromisoformat(verdict["first_failure"]).timestamp()
        return listed - declared, listed - first_failure
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(10)
        recover(bench)


def by_hand(bench: BenchLab, url: str) -> float:
    began = time.time()
    sh([*CRMDR, "status", "open", "--title", "CRM unavailable", "--inventory", str(bench.inventory_path)])
    listed = first_listed(url)
    sh([*CRMDR, "status", "resolve", "--inventory", str(bench.inventory_path)])
    return listed - began


def crash(bench: BenchLab) -> None:
    node = bench.inventory.database.primary
    assert isinstance(node, HostNode)
    sh(as_user([f"{node.bin_dir}/pg_ctl", "stop", "-D", node.data_dir, "-m", "immediate"]))


def recover(bench: BenchLab) -> None:
    """The primary back (same role: no failover ran) and the incident resolved."""
    node = bench.inventory.database.primary
    assert isinstance(node, HostNode)
    postgres.start(LabPaths(bench.dir), "primary", node.host, node.pg_port, pg_bin_dir())
    sh([*CRMDR, "status", "resolve", "--inventory", str(bench.inventory_path)], ok=(0, 2))


def run(argv: Sequence[str] | None = None) -> list[Row]:
    opts = options(__doc__.splitlines()[0], argv)
    repeat = max(opts.repeat, 5) if "--repeat" not in (argv or ()) else opts.repeat
    declared, detected, hand = [], [], []
    with lab(6, 0.02) as bench, tempfile.TemporaryDirectory(prefix="crmdr-bench-status-") as work:
        url = bench.inventory.status.url if bench.inventory.status else ""
        policy = watch_policy(bench.inventory, Path(work) / "policy.json")
        for n in range(repeat):
            from_declared, from_failure = watch_round(bench, policy, url)
            declared.append(from_declared)
            detected.append(from_failure)
            hand.append(by_hand(bench, url))
            print(f"   round {n + 1}: declared -> page {from_declared:.3f} s, first failed probe -> page "
                  f"{from_failure:.3f} s, by hand {hand[-1]:.3f} s ({datetime.now(UTC):%H:%M:%S})", flush=True)
    baseline = "crmdr status open by hand at once"
    return [row("declaration -> first public update (watch)", declared, baseline, hand, f"< {GOAL:g} s", GOAL,
                on="median"),
            row("first failed probe -> first public update (watch)", detected)]


def main(argv: list[str] | None = None) -> int:
    print_rows(run(argv))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
