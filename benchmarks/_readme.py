"""The README's results table: every benchmark module's rows, the machine and the command.

Results are kept per module in benchmarks/results.json, so running one module
(`python -m benchmarks rto`) replaces its rows and keeps the others'; the table between
`<!-- bench:start -->` and `<!-- bench:end -->` in README.md is rebuilt from that file.
"""

import json
import os
import platform
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.table import Row

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results.json"
README = ROOT / "README.md"
START, END = "<!-- bench:start -->", "<!-- bench:end -->"
COMMAND = "make bench  # = .venv/bin/python -m benchmarks [module ...]"


def machine() -> str:
    """CPU model, cores, RAM and kernel of this machine."""
    cpu = "unknown CPU"
    memory = 0
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                   if line.startswith("model name"))
        kib = next(line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines()
                   if line.startswith("MemTotal:"))
        memory = int(kib) // 1024 // 1024
    except (OSError, StopIteration, ValueError):
        pass
    return f"{cpu}, {os.cpu_count()} cores, {memory} GiB RAM, Linux {platform.release()}"


def record(module: str, rows: Sequence[Row], results: Path = RESULTS) -> None:
    """Replace one module's rows in the results file."""
    found: dict[str, Any] = json.loads(results.read_text()) if results.exists() else {}
    found[module] = {"machine": machine(), "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
                     "rows": [asdict(r) for r in rows]}
    results.write_text(json.dumps(found, indent=2, sort_keys=True) + "\n")


def _seconds(value: float | None) -> str:
    return "" if value is None else f"{value:.3f}"


def _line(module: str, r: Mapping[str, Any]) -> str:
    met = {True: "yes", False: "**no**", None: ""}[r.get("met")]
    base = f"{r['baseline']} ({_seconds(r['baseline_median'])} s)" if r.get("baseline_median") is not None \
        else str(r.get("baseline") or "")
    ratio = "" if r.get("ratio") is None else f"{r['ratio']:.2f}"
    cells = [module, r["name"], _seconds(r["median"]), _seconds(r["min"]), _seconds(r["max"]), base, ratio,
             str(r.get("goal") or ""), met]
    return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"


def table(results: Mapping[str, Any]) -> str:
    """Markdown: the machines and command, then one row per figure (seconds)."""
    machines: dict[str, list[str]] = {}
    for module, entry in sorted(results.items()):
        machines.setdefault(entry["machine"], []).append(f"{module} ({entry['measured_at'][:10]})")
    lines = [f"Machine: {name} — {', '.join(modules)}." for name, modules in machines.items()]
    lines += [f"Command: `{COMMAND}`.", "",
              "| benchmark | figure | median s | min s | max s | baseline (median) | ratio | goal | met? |",
              "|---|---|---:|---:|---:|---|---:|---|---|"]
    lines += [_line(module, r) for module, entry in sorted(results.items()) for r in entry["rows"]]
    return "\n".join(lines)


def write_readme(results: Path = RESULTS, readme: Path = README) -> None:
    """Put the table between the markers (appended with its heading when the markers are missing)."""
    text = readme.read_text()
    block = f"{START}\n{table(json.loads(results.read_text()))}\n{END}"
    if START in text and END in text:
        head, rest = text.split(START, 1)
        text = head + block + rest.split(END, 1)[1]
    else:
        text = text.rstrip("\n") + f"\n\n## Benchmark results\n\n{block}\n"
    readme.write_text(text)
