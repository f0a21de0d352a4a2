"""The crash scenario's disruption window starts at the crash command, not before the drill's SSH handshake.

The SSH runner is replaced by a recorder: what is tested is the order of the drill's own calls (open,
then the timed window around the command), which a real sshd cannot show; the real crash over SSH is
covered by tests/lab/test_drill_scenarios.py.
"""

import time
from pathlib import Path

import pytest

from drills.context import DrillContext
from drills.failover import scenarios
from policies.sla import load_policy
from tests.conftest import make_inventory


class RecordingRunner:
    """Stands in for FabricHostRunner: notes when the connection was open and when the command ran."""

    calls: list[tuple[str, float]] = []

    def __init__(self, *args: object, **kwargs: object) -> None:
        RecordingRunner.calls = []

    def open(self) -> None:
        time.sleep(0.01)
        self.calls.append(("opened", time.monotonic()))

    def run(self, command: str, timeout: float | None = None) -> None:
        self.calls.append(("ran " + command.split()[1], time.monotonic()))

    def close(self) -> None:
        self.calls.append(("closed", time.monotonic()))


def test_crash_window_starts_after_the_ssh_handshake(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # GIVEN a drill context whose SSH runner records its calls
    monkeypatch.setattr(scenarios, "FabricHostRunner", RecordingRunner)
    inventory = make_inventory()
    context = DrillContext(inventory=inventory, inventory_path=tmp_path / "inventory.json",
                           tier=load_policy().tiers["gold"], tier_name="gold", scenario="crash",
                           report_dir=tmp_path)
    # WHEN the primary is crashed
    disruption = scenarios.crash(context)
    # THEN the disruption starts once the connection is open, and takes effect after the stop command
    times = dict(RecordingRunner.calls)
    assert [name for name, _ in RecordingRunner.calls] == ["opened", "ran stop", "closed"]
    assert times["opened"] <= disruption.started_mono <= times["ran stop"] <= disruption.effective_mono
