"""How the toolkit grows with its input, two sizes each (medians of --repeat runs).

    .venv/bin/python -m benchmarks.scale [--repeat 3] [--points 1000,10000] [--reports 100,1000]

- `crmdr backup list` (freshness included) over N recovery points seeded straight into the
  lab's bucket (real sealed manifests, half with a passing verdict);
- `crmdr report verify` over N reports written with the real signer and hash chain;
- a Fabric fan-out (`run_on_all`) to 20 sshd instances vs one;
- `crmdr plan` for the two stack shapes that differ most (backup-restore vs warm-standby):
  the stack model has exactly two regions (primary + DR), so a 3-region stack cannot be planned.
"""

import sys
import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

from benchmarks._lab import lab, net, options, print_rows, sh, timed
from benchmarks.table import Row, row
from recovery.inventory import Inventory, load_inventory

CRMDR = [sys.executable, "-m", "crmdr"]
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def seed_points(inventory: Inventory, count: int, already: int) -> None:
    """Points `already`..`count` as sealed manifests (every other one verified), 16 PUTs at a time."""
    from recovery.adapters.s3_store import S3ObjectStore
    from recovery.backups.manifest import (
        ClusterIdentity,
        ObjectEntry,
        RecoveryPoint,
        Verification,
        manifest_key,
        point_id,
        seal,
        to_bytes,
        verification_key,
    )

    store = S3ObjectStore(inventory)
    cluster = ClusterIdentity(system_identifier="7300000000000000001", pg_version=150004, timeline=1)

    def one(n: int) -> None:
        started = T0 + timedelta(minutes=n)
        pid = point_id(started, "physical")
        point = seal(RecoveryPoint(
            id=pid, kind="physical", stack=inventory.stack, tool_version="bench", started_at=started,
            finished_at=started + timedelta(seconds=30), cluster=cluster, kms_key_id=inventory.backup.kms_key_id,
            objects=[ObjectEntry(key=f"points/{pid}/base.tar", size=1 << 30, sha256="0" * 64)]))
        store.put_bytes(manifest_key(pid), to_bytes(point))
        if n % 2 == 0:
            verdict = Verification(point_id=pid, checked_at=started + timedelta(minutes=1), restore=True,
                                   ok=True, reasons=[])
            store.put_bytes(verification_key(pid, verdict.checked_at), verdict.model_dump_json().encode())

    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(one, range(already, count)))


def backup_list_rows(inventory_file: Path, sizes: Sequence[int], repeat: int) -> list[Row]:
    """Cold (each run with an empty object cache) and warm (the cache primed by the cold runs)."""
    inventory, rows, seeded = load_inventory(inventory_file), [], 0
    command = [*CRMDR, "backup", "list", "--json", "--inventory", str(inventory_file)]
    for size in sizes:
        seed_points(inventory, size, seeded)
        seeded = size
        with tempfile.TemporaryDirectory(prefix="crmdr-bench-cache-") as cache:
            cold = [timed(partial(sh, command, {"CRMDR_CACHE_DIR": f"{cache}/{n}"}, (0, 1))) for n in range(repeat)]
            warm = [timed(partial(sh, command, {"CRMDR_CACHE_DIR": f"{cache}/0"}, (0, 1))) for _ in range(repeat)]
        # exit 1 is expected: the seeded points are from 2026-01, older than the RPO
        rows.append(row(f"backup list + freshness, {size:,} points, cold cache", cold))
        rows.append(row(f"backup list + freshness, {size:,} points, warm cache", warm, "cold cache", cold))
    return rows


def write_reports(out: Path, inventory: Inventory, start: int, count: int) -> None:
    """Reports `start`..`count` through the real build, sign and chain path."""
    from drills.judge import check
    from drills.report.build import DrillOutcome, Provenance, build_report, report_id
    from drills.report.model import Person, Signing, Toolkit
    from drills.report.render import render_all
    from drills.report.signing import fingerprint, load_or_create_key, public_key_text
    from drills.report.store import chain_head, publish
    from policies.sla import load_policy

    key = load_or_create_key(out.parent / "signing.pem", create=True)
    public = public_key_text(key)
    tier = load_policy().tier("gold")
    for n in range(start, count):
        finished = T0 + timedelta(hours=n)
        provenance = Provenance(
            report_id=report_id(finished, "backup-verify", f"{n:06x}"), toolkit=Toolkit(version="bench"),
            operator=Person(name="bench@example.com", role="operator"), policy="policies/tiers.yaml",
            tier_name="gold", chain=chain_head(out),
            signing=Signing(public_key=public, key_fingerprint=fingerprint(public)))
        outcome = DrillOutcome(drill_type="backup-verify", scenario="integrity",
                               objectives=[check("Validation", None)], measured={"seconds": 1.0},
                               timeline=[], integrity_checks=[], isolation="bench", cleanup=[])
        report = build_report(outcome, inventory, tier, provenance, finished - timedelta(seconds=30), finished)
        publish(out, report, render_all(report, []), key)


def report_verify_rows(inventory_file: Path, sizes: Sequence[int], repeat: int) -> list[Row]:
    inventory, rows, written = load_inventory(inventory_file), [], 0
    with tempfile.TemporaryDirectory(prefix="crmdr-bench-reports-") as tmp:
        out = Path(tmp) / "reports"
        for size in sizes:
            write_reports(out, inventory, written, size)
            written = size
            times = [timed(lambda: sh([*CRMDR, "report", "verify", str(out), "--json"])) for _ in range(repeat)]
            rows.append(row(f"report verify ({size:,} chained reports)", times))
    return rows


def start_sshds(root: Path, count: int) -> list[tuple[str, str, str]]:
    """`count` sshd instances on 127.0.NET.101.. (the lab's helpers); (name, ip, known_hosts line)."""
    from drills.lab import sshd
    from drills.lab.settings import LabPaths

    paths = LabPaths(root)
    sshd.keygen(paths.client_key, "crmdr-bench-client")
    hosts = []
    for n in range(count):
        name, ip = f"h{n + 1:02d}", f"127.0.{net()}.{101 + n}"
        sshd.start(paths, name, ip, 2222)
        hosts.append((name, ip, sshd.known_hosts_line(paths, name, ip, 2222)))
    return hosts


def fan_out_rows(repeat: int, count: int = 20) -> list[Row]:
    from drills.lab import sshd
    from drills.lab.settings import LabPaths
    from drills.lab.system import os_user
    from recovery.adapters.fabric_host import FabricHostRunner, run_on_all
    from recovery.inventory import HostNode, Ssh

    root = Path(tempfile.mkdtemp(prefix="crmdr-bench-sshd-", dir="/tmp"))
    root.chmod(0o755)
    ssh = Ssh(identity_file=str(LabPaths(root).client_key))
    try:
        hosts = start_sshds(root, count)
        nodes = [HostNode(name=name, host=ip, region="lab", ssh_port=2222, user=os_user(), known_hosts=line,
                          data_dir="/nonexistent") for name, ip, line in hosts]

        def fan(group: list[HostNode]) -> None:
            results = run_on_all([FabricHostRunner(node, ssh) for node in group], "hostname")
            failed = [name for name, result in results.items() if isinstance(result, Exception)]
            if failed:
                raise SystemExit(f"fan-out failed on {failed}: {results[failed[0]]}")

        one = [timed(lambda: fan(nodes[:1])) for _ in range(repeat)]
        many = [timed(lambda: fan(nodes)) for _ in range(repeat)]
    finally:
        for n in range(count):
            sshd.stop(LabPaths(root), f"h{n + 1:02d}")
        sh(["rm", "-rf", str(root)])
    return [row("Fabric run_on_all, 1 host (connect + run)", one),
            row(f"Fabric run_on_all, {count} hosts (connect + run)", many, "1 host", one,
                "ratio <= 5 (parallel)", 5.0)]


def plan_rows(repeat: int) -> list[Row]:
    rows = []
    for strategy in ("backup-restore", "warm-standby"):
        command = [*CRMDR, "plan", "--config", "Pulumi.example.yaml", "--set", f"strategy={strategy}", "--json"]
        times = [timed(partial(sh, command, ok=(0, 1))) for _ in range(repeat)]  # 1: a guardrail verdict
        rows.append(row(f"plan, 2 regions, {strategy}", times))
    return rows


def run(argv: Sequence[str] | None = None) -> list[Row]:
    opts = options(__doc__.splitlines()[0], argv)
    points = (1_000, 10_000) if opts.size_gb >= 0.5 else (100, 1_000)
    reports = (100, 1_000) if opts.size_gb >= 0.5 else (10, 100)
    rows = fan_out_rows(opts.repeat) + plan_rows(opts.repeat)
    with lab(2, 0.0) as bench:
        rows += backup_list_rows(bench.inventory_path, points, opts.repeat)
        rows += report_verify_rows(bench.inventory_path, reports, opts.repeat)
    return rows


def main(argv: list[str] | None = None) -> int:
    print_rows(run(argv))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
