"""Client-observed RTO of a lab failover, by phase, against the raw PostgreSQL floor (same lab, same run).

    .venv/bin/python -m benchmarks.rto [--repeat 5]

Each round runs, on the benchmark's own lab (asynchronous streaming standby):
1. `crmdr drill run --type failover` (declared outage: the drill starts the failover right after the
   crash); RTO = first acknowledged probe write through the DNS name - the crash (drills/failover/measure.py),
   phases (detect, decide, fence, promote, dns, validate) from the drill report's timeline;
2. the same drill with `--detect watch`: `crmdr watch` must first see 3 failed probes 0.5 s apart, or 2
   with the standby's WAL receiver having lost the primary at each (a policy copy with watch_interval 0.5s,
   watch_failures 3);
3. the raw floor: `pg_ctl stop -m immediate` on the primary, `pg_ctl promote` on the standby, then the
   first INSERT on it (no fencing, no DNS, no validation, no journal), then `crmdr failback` to reset.
Database size does not enter a streaming failover, so the lab is small (--size-gb is ignored).

Two clients are measured in every drill: the drill's write probe, whose resolver keeps an answer
for its TTL (the lab's records have the lowest TTL the inventory allows, 1 s), and a second probe in
this process that resolves afresh on every connect (no DNS cache: TTL 0 or a client that re-resolves
after a failed connect). The lab's DNS server re-reads the zone every 0.1 s (Route 53's propagation
in the lab; 1 s by default). `runbook start` is the crash's end to the runbook's first event (opening
the site: policy, SSH to every host, AWS clients) in the declared drill.
"""

import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg

from benchmarks._lab import lab, options, print_rows, sh
from benchmarks.table import Row, row
from drills.failover.measure import Disruption, measure
from drills.failover.probe import ProbeSettings, WriteProbe
from policies.sla import load_policy
from recovery.adapters.dns_resolver import DnsResolver
from recovery.adapters.scratch_pg import service_user
from recovery.adapters.secrets import optional_secret
from recovery.inventory import HostNode, Inventory, load_inventory

CRMDR = [sys.executable, "-m", "crmdr"]
PHASES = ("detect", "decide", "fence", "promote", "dns", "validate")
WATCH = {"watch_interval": "0.5s", "watch_failures": 3}
LAB_GB = 0.02
GOALS = {"declared": 0.5, "watch": 1.5}  # issue 16 item 7
LAB_DNS = {"dns_ttl": 1, "dns_refresh": 0.1}


def watch_policy(inventory: Inventory, path: Path) -> Path:
    """The shipped policy with a tighter watch for the lab's tier (JSON is a policy format too)."""
    data = load_policy().model_dump(mode="json")
    data["tiers"][inventory.sla_tier].update(WATCH)
    path.write_text(json.dumps(data))
    return path


def fresh_client(inventory: Inventory) -> WriteProbe:
    """A writer that asks DNS afresh on every connect (its resolver keeps no answer)."""
    return WriteProbe(inventory, ProbeSettings(rate=100.0, writer="bench-fresh"),
                      resolve=lambda: DnsResolver(inventory, timeout=1.0).resolve())


def _fresh_rto(ledger: tuple[Any, ...], report: dict[str, Any]) -> float:
    """The fresh client's RTO against the drill's crash (its wall times, mapped to this process's clock)."""
    crash = next(p for p in report["timeline"] if p["name"].startswith("disrupt"))
    skew = time.time() - time.monotonic()
    began = datetime.fromisoformat(crash["started_at"]).timestamp() - skew
    found = measure(ledger, frozenset(), Disruption(began, began + skew, began + crash["duration_seconds"]))
    if found.rto_seconds is None:
        raise SystemExit("the fresh-resolving client wrote nothing after the failover")
    return found.rto_seconds


def _runbook_start(report: dict[str, Any]) -> float:
    """Seconds from the crash's end to the failover's first phase (0 when the watch's detect came first)."""
    crash = next(p for p in report["timeline"] if p["name"].startswith("disrupt"))
    first = min(p["offset_seconds"] for p in report["timeline"] if p["name"].startswith("failover: "))
    return max(0.0, first - crash["offset_seconds"] - crash["duration_seconds"])


def drill(bench_inventory: Inventory, inventory_file: Path, out: Path, *extra: str) -> dict[str, Any]:
    """One failover drill; its RTO (drill probe and fresh client) and the failover's phase durations (s)."""
    fresh = fresh_client(bench_inventory)
    fresh.start()
    try:
        done = subprocess.run([*CRMDR, "drill", "run", "--type", "failover", "--inventory", str(inventory_file),
                               "--out", str(out), "--no-bucket", "--json", *extra], capture_output=True, text=True)
    finally:
        ledger = fresh.stop()
    if done.returncode not in (0, 1) or not done.stdout.strip():
        raise SystemExit(f"failover drill failed ({done.returncode}): {done.stderr.strip()[-400:]}")
    verdict = json.loads(done.stdout)
    report = json.loads((Path(verdict["report_dir"]) / "report.json").read_text())
    phases = {p["name"].removeprefix("failover: "): p["duration_seconds"] for p in report["timeline"]
              if p["name"].startswith("failover: ")}
    rto = verdict["measured"]["rto_seconds"]
    if rto is None:
        raise SystemExit(f"no write succeeded after the failover drill ({verdict['report_dir']})")
    return {"rto": float(rto), "fresh": _fresh_rto(ledger, report), "start": _runbook_start(report),
            **{name: float(phases.get(name, 0.0)) for name in PHASES}}


def as_user(command: list[str]) -> list[str]:
    user = service_user()
    return ["runuser", "-u", user, "--", *command] if user else command


def first_write(inventory: Inventory, node: HostNode, password: str | None) -> None:
    db = inventory.database
    deadline = time.monotonic() + 60
    while True:
        try:
            with psycopg.connect(host=node.host, port=node.pg_port, user=db.user, password=password,
                                 dbname=db.name, autocommit=True, connect_timeout=2) as conn:
                conn.execute("INSERT INTO crmdr_probe (id, writer) VALUES (%s, 'bench-raw')", (time.time_ns(),))
                return
        except psycopg.Error:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.005)


def raw_floor(inventory_file: Path) -> float:
    """Crash -> promote -> first write with the bare tools, then fail back with crmdr (not timed)."""
    inventory = load_inventory(inventory_file)
    old, new = inventory.database.primary, inventory.database.standby
    if not isinstance(old, HostNode) or not isinstance(new, HostNode):
        raise SystemExit("the RTO benchmark needs a hosts lab")
    password = optional_secret(inventory.database.password, inventory)
    began = time.monotonic()
    sh(as_user([f"{old.bin_dir}/pg_ctl", "stop", "-D", old.data_dir, "-m", "immediate"]))
    sh(as_user([f"{new.bin_dir}/pg_ctl", "promote", "-D", new.data_dir]))
    first_write(inventory, new, password)
    elapsed = time.monotonic() - began
    sh([*CRMDR, "failback", "--yes", "--inventory", str(inventory_file), "--journal-dir",
        str(inventory_file.parent / "runs")])
    return elapsed


def rows_from(times: dict[str, dict[str, list[float]]], raw: list[float]) -> list[Row]:
    rows = [row("raw floor: pg_ctl stop -m immediate + promote + first INSERT", raw)]
    for mode, label in (("declared", "declared outage"),
                        ("watch", "detected by crmdr watch (0.5 s x 3, x 2 with the standby)")):
        found = times[mode]
        goal = GOALS[mode]
        for key, client in (("fresh", "client resolving afresh"), ("rto", "client caching DNS, TTL 1 s")):
            rows.append(row(f"failover RTO, {label}, {client}", found[key], "raw floor", raw, f"<= {goal:g} s",
                            goal, on="median"))
        rows += [row(f"phase {phase} ({mode})", found[phase]) for phase in PHASES]
    rows.append(row("runbook start after the crash (declared)", times["declared"]["start"]))
    return rows


def run(argv: Sequence[str] | None = None) -> list[Row]:
    opts = options(__doc__.splitlines()[0], argv)
    repeat = max(opts.repeat, 5) if "--repeat" not in (argv or ()) else opts.repeat
    times: dict[str, dict[str, list[float]]] = {mode: {k: [] for k in ("rto", "fresh", "start", *PHASES)}
                                                for mode in GOALS}
    raw: list[float] = []
    with lab(5, LAB_GB, **LAB_DNS) as bench, tempfile.TemporaryDirectory(prefix="crmdr-bench-rto-") as work:
        policy = watch_policy(bench.inventory, Path(work) / "policy.json")
        for n in range(repeat):  # interleaved, so the machine's load hits every figure alike
            for mode, extra in (("declared", ()), ("watch", ("--detect", "watch", "--policy", str(policy)))):
                found = drill(bench.inventory, bench.inventory_path, Path(work) / "reports", *extra)
                for key, value in found.items():
                    times[mode][key].append(value)
                print(f"   round {n + 1}: {mode} RTO {found['rto']:.3f} s (fresh client {found['fresh']:.3f} s)",
                      flush=True)
            raw.append(raw_floor(bench.inventory_path))
            print(f"   round {n + 1}: raw floor {raw[-1]:.3f} s", flush=True)
    return rows_from(times, raw)


def main(argv: list[str] | None = None) -> int:
    print_rows(run(argv))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
