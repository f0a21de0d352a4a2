"""Run the benchmark modules (each has `run(argv) -> list[Row]`), then rebuild the README table.

    .venv/bin/python -m benchmarks            # every module
    .venv/bin/python -m benchmarks rto startup

Each module brings up its own lab; its rows replace that module's rows in
benchmarks/results.json, and README.md's table is rebuilt from it (benchmarks/_readme.py).
"""

import importlib
import pkgutil
import sys
import traceback

import benchmarks
from benchmarks._lab import print_rows
from benchmarks._readme import record, write_readme


def modules() -> list[str]:
    """Benchmark modules: those with a `run` (table.py and _helpers are not benchmarks)."""
    names = sorted(m.name for m in pkgutil.iter_modules(benchmarks.__path__) if not m.name.startswith("_"))
    return [name for name in names if hasattr(importlib.import_module(f"benchmarks.{name}"), "run")]


def main(argv: list[str]) -> int:
    known = modules()
    unknown = [name for name in argv if name not in known]
    if unknown:
        print(f"unknown benchmark(s) {', '.join(unknown)}; known: {', '.join(known)}", file=sys.stderr)
        return 2
    failed = []
    for name in argv or known:
        print(f"== benchmarks.{name}", flush=True)
        try:
            rows = importlib.import_module(f"benchmarks.{name}").run([])
        except (Exception, SystemExit) as err:  # one broken benchmark must not lose the others' rows
            traceback.print_exception(err)
            failed.append(name)
            continue
        print_rows(rows)
        record(name, rows)
        write_readme()
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
