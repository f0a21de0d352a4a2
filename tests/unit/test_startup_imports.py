"""The recovery path never imports Pulumi: it must run where Pulumi is not installed (a correctness
property, not a timing; the timings are in benchmarks/startup.py)."""

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.unit

FORBIDDEN = ("pulumi", "pulumi_aws")
RECOVERY_PATH = ("crmdr.cli", "recovery.runbooks.failover", "recovery.runbooks.switchover",
                 "recovery.watch.loop", "recovery.adapters.health_probe", "recovery.backups.take",
                 "drills.failover.drill", "drills.runner")


def imported_by(*args: str) -> set[str]:
    """Top-level packages a `python -X importtime ...` run imported (from its stderr)."""
    done = subprocess.run([sys.executable, "-X", "importtime", *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=120)
    return {line.rsplit("|", 1)[1].strip().split(".")[0] for line in done.stderr.splitlines()
            if line.startswith("import time:") and "|" in line}


@pytest.mark.parametrize("command", [("--help",), ("failover", "--help"), ("watch", "--help")])
def test_cli_help_imports_no_pulumi(command: tuple[str, ...]) -> None:
    found = imported_by("-m", "crmdr", *command)
    assert "crmdr" in found and "typer" in found
    assert not found & set(FORBIDDEN)


def test_recovery_modules_import_no_pulumi() -> None:
    found = imported_by("-c", "import " + ", ".join(RECOVERY_PATH))
    assert {"recovery", "drills", "paramiko", "boto3"} <= found
    assert not found & set(FORBIDDEN)


def test_restore_command_taking_a_queued_segment_imports_neither_boto3_nor_the_inventory_model(tmp_path: Path) -> None:
    """PostgreSQL starts restore_command once per segment, so its queued path stays on the standard
    library: importing the inventory model (pydantic) cost ~0.25 s a call, ~1 s on a loaded machine,
    and made replay through the queue 14x slower than `cp` (docs/performance.md, WAL fetch)."""
    name = "000000010000000000000007"
    queue = tmp_path / "queue"
    (queue / "ready").mkdir(parents=True)
    (queue / "ready" / name).write_bytes(b"checked segment")
    target = tmp_path / "RECOVERYXLOG"
    found = imported_by("-m", "recovery.wal_fetch", "--inventory", str(tmp_path / "inventory.json"),
                        "--queue", str(queue), name, str(target))
    assert target.read_bytes() == b"checked segment" and (queue / "served").read_text() == name
    assert "recovery" in found and not found & {"pydantic", "boto3", "botocore", "yaml"}
