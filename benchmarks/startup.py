"""Start-up: wall time of `crmdr --help` and of the recovery path, and the modules they import.

    .venv/bin/python -m benchmarks.startup [--repeat 7]

Baseline: `python -c pass` with the same interpreter, in the same run. The modules come from
`python -X importtime` (its stderr names every module imported); the benchmark fails when a
recovery-path command imports Pulumi (the recovery path must work where Pulumi is not installed).
`crmdr failover --dry-run` runs against the benchmark's own small lab (it opens SSH to both hosts
and reads their state, so it measures more than start-up; its import time is reported apart).
"""

import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from benchmarks._lab import lab, options, print_rows, timed
from benchmarks.table import Row, row

PYTHON = sys.executable
CRMDR = [PYTHON, "-m", "crmdr"]
HELP_GOAL = 0.3
FORBIDDEN = ("pulumi", "pulumi_aws")


def imported(command: Sequence[str]) -> tuple[list[str], float]:
    """Modules a command imports and the sum of their own import times (seconds)."""
    done = subprocess.run([PYTHON, "-X", "importtime", *command[1:]], capture_output=True, text=True)
    names, total = [], 0
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        own, _, name = line.removeprefix("import time:").split("|")
        names.append(name.strip())
        total += int(own)
    return names, total / 1e6


def run_quietly(command: Sequence[str]) -> None:
    done = subprocess.run(list(command), capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command[2:])} failed ({done.returncode}): {done.stderr.strip()[-300:]}")


def pulumi_free(label: str, command: Sequence[str]) -> tuple[int, float]:
    """Module count and import seconds; SystemExit when Pulumi is among the modules."""
    names, seconds = imported(command)
    leaked = sorted({n for n in names if n.split(".")[0] in FORBIDDEN})
    if leaked:
        raise SystemExit(f"{label} imports Pulumi ({', '.join(leaked[:5])}): the recovery path must not")
    return len(names), seconds


def figures(commands: dict[str, list[str]], repeat: int) -> list[Row]:
    baseline = [PYTHON, "-c", "pass"]
    times: dict[str, list[float]] = {name: [] for name in ["python -c pass", *commands]}
    for _ in range(repeat):  # interleaved, so load on the machine hits every figure alike
        times["python -c pass"].append(timed(lambda: run_quietly(baseline)))
        for name, command in commands.items():
            times[name].append(timed(lambda command=command: run_quietly(command)))  # type: ignore[misc]
    rows = [row("python -c pass (baseline)", times["python -c pass"])]
    for name in commands:
        goal, limit = (f"< {HELP_GOAL} s", HELP_GOAL) if name == "crmdr --help" else ("", None)
        rows.append(row(name, times[name], "python -c pass", times["python -c pass"], goal, limit, on="median"))
    return rows


def import_rows(commands: dict[str, list[str]]) -> list[Row]:
    rows = []
    for name, command in commands.items():
        count, seconds = pulumi_free(name, command)
        rows.append(row(f"{name}: import time, {count} modules, no Pulumi", [seconds]))
    return rows


def run(argv: Sequence[str] | None = None) -> list[Row]:
    opts = options(__doc__.splitlines()[0], argv)
    repeat = max(opts.repeat, 5)
    with lab(6, 0.0) as bench:
        inventory = str(bench.inventory_path)
        journal = str(Path(bench.dir) / "runs")
        commands = {
            "crmdr --help": [*CRMDR, "--help"],
            "crmdr failover --help": [*CRMDR, "failover", "--help"],
            "crmdr failover --dry-run (lab)": [*CRMDR, "failover", "--dry-run", "--inventory", inventory,
                                               "--journal-dir", journal],
            "crmdr watch --once (lab)": [*CRMDR, "watch", "--once", "--inventory", inventory],
        }
        return figures(commands, repeat) + import_rows(commands)


def main(argv: list[str] | None = None) -> int:
    print_rows(run(argv))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
