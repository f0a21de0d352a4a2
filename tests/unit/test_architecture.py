"""Deciding and doing stay apart, and the tree says which is which.

- Purity by path: a module is effectful when its path says so (below), else it is pure. A pure
  module imports no I/O library, reads no clock, and imports no effectful project module
  (adapters, the lab, composition roots), so purity holds transitively.
- Dependencies point one way (crmdr -> drills -> outage -> recovery -> policies) and the import
  graph, lazy in-function imports included, has no cycle.
- Within recovery/ a file name means one job: no two modules share a name (old entry-point names
  kept for hosts are thin shims, checked to be thin).
"""

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("policies", "recovery", "outage", "drills", "crmdr")
LAYERS = ("policies", "recovery", "outage", "drills", "crmdr")  # each may import only those before it
FORBIDDEN_IMPORTS = {"boto3", "botocore", "fabric", "paramiko", "invoke", "pulumi", "pulumi_aws", "psycopg",
                     "subprocess", "httpx", "fastapi", "uvicorn", "starlette", "mangum", "urllib.request",
                     "socket", "dnslib"}
FORBIDDEN_CALLS = {("time", "sleep"), ("time", "time"), ("datetime", "now"), ("datetime", "utcnow")}

# Effectful by path: technology adapters and the lab's process management (any path segment
# `adapters` or `lab`), the CLI face (`crmdr`), and composition roots by file name (`service.py`
# wires ports to adapters; `site.py` / `*_site.py` opens a runbook's adapters).
EFFECTFUL_PARTS = ("adapters", "lab")
EFFECTFUL_PACKAGES = ("crmdr",)
EFFECTFUL_NAMES = ("service.py", "site.py")
EFFECTFUL_SUFFIXES = ("_site.py",)
# Services named for their job (the CLI, hosts and docs call them by these names), each of which
# composes adapters. Every entry must really import something effectful (checked below), so the
# list cannot hide a pure module; shrink it by injecting ports, never grow it for convenience.
EFFECTFUL_MODULES = {
    # backups: take, verify and replay a point against real PostgreSQL, S3 and a scratch cluster
    "recovery/backups/take.py", "recovery/backups/verify.py", "recovery/backups/replay.py",
    "recovery/backups/retention.py", "recovery/backups/rds_backup.py",
    "recovery/backups/restore_fetch.py",  # process entry point on the restore target (tar, pg_verifybackup)
    # WAL: set archive_command on hosts; the archive/restore_command processes, their helpers
    # (archiver, restore queue) and the file protocol between them (starts the helper process)
    "recovery/wal/archive.py", "recovery/wal/push.py", "recovery/wal/fetch.py",
    "recovery/wal/archiver.py", "recovery/wal/restore_queue.py", "recovery/wal/daemon.py",
    "recovery/wal/streamer.py",  # runs pg_receivewal and uploads what it receives
    # the watch loop: probes, journals, notifies and fails over
    "recovery/watch/loop.py",
    # one module per runbook: each opens its site and runs its steps there
    "recovery/runbooks/failover.py", "recovery/runbooks/switchover.py", "recovery/runbooks/restore.py",
    "recovery/runbooks/rds_failover.py",
    "recovery/runbooks/live.py",  # inventory check --live: opens the site and asks each part once, read-only
    # drills: the runner picks and runs executors; the executors disrupt a lab and measure it
    "drills/runner.py", "drills/demo.py", "drills/backup_drill.py", "drills/failover/drill.py",
    "drills/failover/scenarios.py", "drills/failover/probe.py", "drills/failover/detection.py",
    "drills/failover/intake.py",  # submits through the intake's HTTP API, replays into the CRM
    "drills/failover/topology.py",  # reads pg_stat_replication on the primary before the disruption
}
# Old entry-point names kept because hosts have them in archive_command / restore_command.
SHIMS = {"recovery/wal_push.py": "recovery.wal.push", "recovery/wal_fetch.py": "recovery.wal.fetch",
         "recovery/adapters/restore_fetch.py": "recovery.backups.restore_fetch"}


def _relative(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def is_effectful(path: Path) -> bool:
    relative = path.relative_to(ROOT)
    return (any(part in EFFECTFUL_PARTS for part in relative.parts[:-1])
            or relative.parts[0] in EFFECTFUL_PACKAGES
            or relative.name in EFFECTFUL_NAMES
            or relative.name.endswith(EFFECTFUL_SUFFIXES)
            or relative.as_posix() in EFFECTFUL_MODULES
            or relative.as_posix() in SHIMS)


def project_modules() -> dict[str, Path]:
    """Dotted name -> file, for every module of the project's packages."""
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    """ids of the nodes under `if TYPE_CHECKING:` (type-only imports: no runtime dependency)."""
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped |= {id(child) for statement in node.body for child in ast.walk(statement)}
    return skipped


def imported_names(path: Path, package: str) -> Iterator[tuple[int, str]]:
    """(line, dotted name) of every runtime import in the file, lazy ones included; `from a import b`
    yields both `a` and `a.b` (b may be a module)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    skipped = _type_checking_nodes(tree)
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            yield node.lineno, base
            for alias in node.names:
                yield node.lineno, f"{base}.{alias.name}"


def _package_of(name: str, path: Path) -> str:
    return name if path.name == "__init__.py" else name.rpartition(".")[0]


def import_graph() -> dict[str, set[str]]:
    """Module -> the project modules it imports (the deepest module each import names)."""
    modules = project_modules()
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets = {n for _, n in imported_names(path, _package_of(name, path)) if n in modules}
        graph[name] = {t for t in targets if t != name and not any(o.startswith(t + ".") for o in targets)}
    return graph


def _forbidden(name: str) -> bool:
    return any(name == f or name.startswith(f + ".") for f in FORBIDDEN_IMPORTS)


def violations(path: Path) -> list[str]:
    """Why a module counted as pure is not."""
    modules = project_modules()
    name = next((n for n, p in modules.items() if p == path), path.stem)
    problems = []
    for line, imported in imported_names(path, _package_of(name, path)):
        if _forbidden(imported) and not _forbidden(imported.rpartition(".")[0]):
            problems.append(f"{line}: imports {imported}")
        elif imported in modules and is_effectful(modules[imported]):
            problems.append(f"{line}: imports the effectful {imported}")
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            owner = node.func.value
            owner_name = owner.id if isinstance(owner, ast.Name) else getattr(owner, "attr", "")
            if (owner_name, node.func.attr) in FORBIDDEN_CALLS:
                problems.append(f"{node.lineno}: calls {owner_name}.{node.func.attr}() (take `now` as a parameter)")
    return [f"{_relative(path)}:{p}" for p in problems]


def pure_modules() -> list[Path]:
    return [p for p in project_modules().values() if not is_effectful(p)]


def test_there_are_pure_modules_to_check() -> None:
    names = {_relative(p) for p in pure_modules()}
    assert {"recovery/inventory.py", "recovery/redact.py", "recovery/backups/pitr.py", "recovery/wal/segments.py",
            "recovery/watch/decide.py", "recovery/runbooks/journal/events.py", "recovery/runbooks/run.py",
            "policies/sla.py", "drills/judge.py", "drills/context.py", "outage/status/model.py",
            "outage/status/cadence.py", "outage/status/render.py", "policies/checklist.py"} <= names


def test_pure_modules_do_no_io_and_import_nothing_effectful() -> None:
    found = [v for path in pure_modules() for v in violations(path)]
    assert found == []


def test_every_listed_effectful_module_needs_to_be() -> None:
    """An entry of EFFECTFUL_MODULES that would pass as pure is a pure module hidden by the list."""
    modules = project_modules()
    hidden = []
    for relative in sorted(EFFECTFUL_MODULES):
        path = ROOT / relative
        assert path.exists(), f"{relative} is listed but does not exist"
        name = next(n for n, p in modules.items() if p == path)
        direct = [n for _, n in imported_names(path, _package_of(name, path))
                  if _forbidden(n) or (n in modules and is_effectful(modules[n]) and n not in EFFECTFUL_MODULES)]
        via_list = [n for _, n in imported_names(path, _package_of(name, path))
                    if n in modules and _relative(modules[n]) in EFFECTFUL_MODULES]
        if not direct and not via_list:
            hidden.append(relative)
    assert hidden == []


@pytest.mark.parametrize("source, expected", [
    ("import boto3\nimport time\ntime.sleep(1)\n", 2),
    ("from recovery.adapters.s3_store import S3ObjectStore\n", 1),
    ("from recovery.runbooks import site\n", 1),
    ("from urllib import request\nimport httpx\n", 2),
    ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from recovery.adapters.rds import Rds\n", 0),
    ("from recovery.backups import manifest\nimport json\n", 0),
])
def test_the_checker_catches_a_violation(source: str, expected: int) -> None:
    bad = ROOT / "recovery" / "_tmp_probe_module.py"
    bad.write_text(source)
    try:
        assert len(violations(bad)) == expected
    finally:
        bad.unlink()


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycles_lazy_imports_included() -> None:
    assert _cycles(import_graph()) == []


def test_the_cycle_finder_finds_one() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_dependencies_point_one_way() -> None:
    upward = []
    for module, targets in import_graph().items():
        layer = LAYERS.index(module.split(".")[0])
        upward += [f"{module} -> {t}" for t in targets if LAYERS.index(t.split(".")[0]) > layer]
    assert upward == []


def test_nothing_outside_the_cli_imports_it() -> None:
    offenders = []
    for package in ("policies", "recovery", "outage", "drills", "infra"):
        for path in (ROOT / package).rglob("*.py"):
            offenders += [_relative(path) for _, n in imported_names(path, package) if n.split(".")[0] == "crmdr"]
    assert offenders == []


def test_one_file_name_one_job_across_recovery() -> None:
    seen: dict[str, list[str]] = {}
    for path in (ROOT / "recovery").rglob("*.py"):
        if path.name != "__init__.py" and _relative(path) not in SHIMS:
            seen.setdefault(path.name, []).append(_relative(path))
    assert {name: paths for name, paths in seen.items() if len(paths) > 1} == {}


@pytest.mark.parametrize("shim, target", sorted(SHIMS.items()))
def test_old_entry_points_are_thin_shims(shim: str, target: str) -> None:
    tree = ast.parse((ROOT / shim).read_text())
    imports = {n for _, n in imported_names(ROOT / shim, "recovery")} - {"sys", "sys.exit"}
    assert imports == {target, f"{target}.main"}
    functions = [node for node in ast.walk(tree) if isinstance(node, ast.FunctionDef | ast.ClassDef)]
    assert functions == []


def test_adapters_import_only_contracts_pure_modules_and_other_adapters() -> None:
    """Adapters translate; they never call back up into a service or composition root."""
    modules = project_modules()
    upward = []
    for name, path in modules.items():
        if "adapters" not in path.relative_to(ROOT).parts or _relative(path) in SHIMS:
            continue
        for line, imported in imported_names(path, _package_of(name, path)):
            target = modules.get(imported)
            if target is not None and is_effectful(target) and "adapters" not in target.relative_to(ROOT).parts:
                upward.append(f"{_relative(path)}:{line}: imports {imported}")
    assert upward == []
