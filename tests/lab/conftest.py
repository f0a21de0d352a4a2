"""Real labs for tests: one shared lab for tests that only read, a fresh one per destructive test.

Each test process uses its own loopback block (127.0.$CRMDR_TEST_NET.x, default 100), so a
developer's running lab (127.0.0.x) and parallel runs never collide.
"""

import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from drills.lab.lab import down, up
from drills.lab.settings import LabSettings
from recovery.inventory import Inventory

NET = int(os.environ.get("CRMDR_TEST_NET", "100"))
pytestmark = pytest.mark.lab

needs_netns = pytest.mark.skipif(
    os.geteuid() != 0,
    reason="needs root: the lab then runs each host in a network namespace (drills/lab/network.py); as a normal "
           "user it stays on loopback, where a cut cannot stop replication nor cut one direction only",
)
"""For fault tests that need a partition that cuts both ways (replication included) or one way."""


def lab_settings(slot: int, **overrides: Any) -> LabSettings:
    """Addresses 127.0.NET.(10*slot + 0/1/2) for moto, primary and standby."""
    base = f"127.0.{NET}.{10 * slot}"
    return LabSettings(
        aws_ip=base, primary_ip=f"127.0.{NET}.{10 * slot + 1}", standby_ip=f"127.0.{NET}.{10 * slot + 2}",
        **overrides,
    )


def lab_dir() -> Path:
    """Under /tmp and world-traversable: the PostgreSQL service user must reach it."""
    path = Path(tempfile.mkdtemp(prefix="crmdr-lab-", dir="/tmp"))
    path.chmod(0o755)
    return path


@dataclass
class Lab:
    dir: Path
    settings: LabSettings
    inventory: Inventory

    @property
    def inventory_path(self) -> Path:
        return self.dir / "inventory.json"

    @property
    def password(self) -> str:
        return (self.dir / "secrets" / "db_password").read_text().strip()


def start_lab(slot: int, **overrides: Any) -> Lab:
    directory = lab_dir()
    settings = lab_settings(slot, **overrides)
    try:
        inventory = up(directory, settings, lambda step: None)
    except BaseException:
        stop_lab(directory)
        raise
    return Lab(directory, settings, inventory)


def stop_lab(directory: Path) -> None:
    """Always leaves nothing behind, even when `up` failed half-way."""
    try:
        if (directory / "lab.json").exists():
            down(directory, purge=True)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def module_lab(slot: int, why: str, **overrides: Any) -> Any:
    """A module-scoped fixture: one lab on `slot` for a test file whose tests can share it (`why`)."""

    @pytest.fixture(scope="module")
    def fixture() -> Iterator[Lab]:
        lab = start_lab(slot, **overrides)
        yield lab
        stop_lab(lab.dir)

    fixture.__doc__ = why
    return fixture


@pytest.fixture(scope="session")
def shared_lab() -> Iterator[Lab]:
    """For tests that only read."""
    lab = start_lab(1, rows=100)
    yield lab
    stop_lab(lab.dir)


@pytest.fixture
def fresh_lab(request: pytest.FixtureRequest) -> Iterator[Lab]:
    """For tests that fail over, kill or corrupt; `@pytest.mark.lab_settings(synchronous=True)`."""
    marker = request.node.get_closest_marker("lab_settings")
    lab = start_lab(2, rows=50, **(marker.kwargs if marker else {}))
    yield lab
    stop_lab(lab.dir)
