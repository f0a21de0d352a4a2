"""Run every benchmark module (each has a `main(argv)`) against the lab in $CRMDR_INVENTORY."""

import importlib
import pkgutil
import sys

import benchmarks


def main() -> int:
    failed = 0
    for module in sorted(m.name for m in pkgutil.iter_modules(benchmarks.__path__)):
        if module.startswith("_"):
            continue
        print(f"== benchmarks.{module}", flush=True)
        failed += bool(importlib.import_module(f"benchmarks.{module}").main([]))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
