"""Deciding and doing stay apart: pure modules import no I/O library and read no clock."""

import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("policies", "recovery", "drills", "crmdr")
FORBIDDEN_IMPORTS = {"boto3", "botocore", "fabric", "paramiko", "invoke", "pulumi", "pulumi_aws", "psycopg",
                     "subprocess"}
FORBIDDEN_CALLS = {("time", "sleep"), ("time", "time"), ("datetime", "now"), ("datetime", "utcnow")}
# Effectful by design: adapters, the lab's process management and the CLI face, plus the
# orchestration modules listed by name (each addition is a conscious, reviewed choice).
EFFECTFUL_PARTS = ("adapters", "lab", "crmdr")
EFFECTFUL_MODULES = {"drills/probe.py", "drills/runner.py", "drills/failover_drill.py", "drills/scenarios.py",
                     "drills/backup_drill.py", "drills/topology.py"}


def _is_effectful(path: Path) -> bool:
    relative = path.relative_to(ROOT)
    return any(part in EFFECTFUL_PARTS for part in relative.parts) or relative.as_posix() in EFFECTFUL_MODULES


def pure_modules() -> list[Path]:
    found = []
    for package in PACKAGES:
        found += [p for p in (ROOT / package).rglob("*.py") if not _is_effectful(p)]
    return found


def violations(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    problems = []
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        problems += [f"imports {name}" for name in names if name.split(".")[0] in FORBIDDEN_IMPORTS]
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            owner = node.func.value
            owner_name = owner.id if isinstance(owner, ast.Name) else getattr(owner, "attr", "")
            if (owner_name, node.func.attr) in FORBIDDEN_CALLS:
                problems.append(f"calls {owner_name}.{node.func.attr}() (take `now` as a parameter)")
    return [f"{path.relative_to(ROOT)}:{p}" for p in problems]


def test_there_are_pure_modules_to_check() -> None:
    names = {p.relative_to(ROOT).as_posix() for p in pure_modules()}
    assert {"recovery/inventory.py", "policies/sla.py", "policies/documents.py"} <= names


def test_pure_modules_do_no_io() -> None:
    found = [v for path in pure_modules() for v in violations(path)]
    assert found == []


def test_the_checker_catches_a_violation(tmp_path: Path) -> None:
    bad = ROOT / "recovery" / "_tmp_probe_module.py"
    bad.write_text("import boto3\nimport time\ntime.sleep(1)\n")
    try:
        assert len(violations(bad)) == 2
    finally:
        bad.unlink()


def test_nothing_below_the_cli_imports_it() -> None:
    offenders = []
    for package in ("policies", "recovery", "drills", "infra"):
        for path in (ROOT / package).rglob("*.py"):
            tree = ast.parse(path.read_text())
            for node in ast.walk(tree):
                module = node.module if isinstance(node, ast.ImportFrom) else None
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else [module or ""]
                if any(name.split(".")[0] == "crmdr" for name in names):
                    offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


def test_recovery_and_policies_never_import_drills() -> None:
    offenders = []
    for package in ("policies", "recovery"):
        for path in (ROOT / package).rglob("*.py"):
            text = path.read_text()
            if "from drills" in text or "import drills" in text:
                offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []
