"""The AWS stand-in dies under running `crmdr watch` processes: no outage, no notice, no failover (issue 12).

GIVEN a fresh lab and two real watches (one with `--failover` under a tier that allows automatic
failover, one as a service that declares and notifies), WHEN the moto server is killed, THEN both
report "control plane unreachable", declare nothing and fail nothing over, and `watch --once` exits
0 saying so; WHEN the primary's PostgreSQL is then stopped (`-m immediate`), THEN the service
watch declares the outage: the database failed at the address DNS gives applications; WHEN the
DNS server is stopped too, `watch --once` says "dns unreachable" (exit 1) and declares nothing.
"""

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from drills.lab.lab import read_state
from drills.lab.settings import LabPaths
from recovery.adapters.postgres import connect
from tests.conftest import ROOT, crmdr
from tests.lab.conftest import Lab
from tests.lab.test_watch import AUTO_POLICY, crash_primary

pytestmark = [pytest.mark.lab, pytest.mark.slow]


class Watch:
    """A real `crmdr watch --json` process whose state-change lines are read in a thread."""

    def __init__(self, lab: Lab, policy: Path, journals: Path, *extra: str) -> None:
        command = [sys.executable, "-m", "crmdr", "watch", "--json", "--inventory", str(lab.inventory_path),
                   "--policy", str(policy), "--journal-dir", str(journals), *extra]
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
        self.lines: queue.Queue[dict[str, Any]] = queue.Queue()
        self.seen: list[dict[str, Any]] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            if line.startswith('{"'):
                self.lines.put(json.loads(line))

    def until(self, status: str, within: float) -> dict[str, Any]:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            try:
                verdict = self.lines.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                break
            self.seen.append(verdict)
            if verdict["status"] == status:
                return verdict
        raise AssertionError(f"no {status!r} within {within:g}s; seen {[v['status'] for v in self.seen]}")

    def drain(self) -> list[str]:
        while not self.lines.empty():
            self.seen.append(self.lines.get())
        return [v["status"] for v in self.seen]

    def stop(self) -> str:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            _, err = self.process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            _, err = self.process.communicate()
        return err


def in_recovery(lab: Lab, node: str) -> bool:
    host = getattr(lab.inventory.database, node)
    with connect(host.host, host.pg_port, user=lab.inventory.database.user, password=lab.password,
                 dbname="postgres", timeout=2) as conn:
        return bool(conn.execute("SELECT pg_is_in_recovery()").fetchone() == (True,))


def test_a_dead_aws_api_is_no_outage_and_no_failover_and_a_dead_database_still_is(fresh_lab: Lab,
                                                                                  tmp_path: Path) -> None:
    policy = tmp_path / "auto.yaml"
    policy.write_text(AUTO_POLICY)
    failing_over, service = tmp_path / "failover-runs", tmp_path / "service-runs"
    watches = [Watch(fresh_lab, policy, failing_over, "--failover", "--accept-data-loss"),
               Watch(fresh_lab, policy, service)]
    try:
        for watch in watches:
            assert watch.until("healthy", 60)["control_plane"] == "reachable"
        # WHEN the AWS stand-in (the control plane) dies
        state = read_state(LabPaths(fresh_lab.dir))
        assert state is not None and state.moto_pid
        os.kill(state.moto_pid, signal.SIGKILL)
        for watch in watches:
            verdict = watch.until("control plane unreachable", 30)
            assert "Route 53" in verdict["control_plane_error"] and verdict["consecutive_failures"] == 0
        time.sleep(3)  # ten more probes, 0.3 s apart
        once = crmdr("watch", "--once", "--json", "--inventory", str(fresh_lab.inventory_path), "--policy", str(policy))
        # THEN nothing was declared, announced or failed over
        for watch in watches:
            assert watch.process.poll() is None, watch.stop()
            assert not {"suspect", "outage", "down"} & set(watch.drain()), watch.seen
        assert once.returncode == 0, once.stderr
        assert json.loads(once.stdout)["status"] == "control plane unreachable"
        assert not list(failing_over.glob("*.jsonl")) and not list(service.glob("watch-*.jsonl"))
        assert not in_recovery(fresh_lab, "primary") and in_recovery(fresh_lab, "standby")
        watches[0].stop()
        # WHEN the database itself fails at the address applications reach
        crash_primary(fresh_lab)
        outage = watches[1].until("outage", 30)
        assert f"at {fresh_lab.settings.primary_ip}" in outage["reason"]
        assert "the AWS API does not answer either" in outage["reason"]
        deadline = time.monotonic() + 30
        while not list(service.glob("watch-*.jsonl")) and time.monotonic() < deadline:
            time.sleep(0.1)
        (journal,) = service.glob("watch-*.jsonl")
        assert "outage declared" in journal.read_text()
        # WHEN the name cannot be resolved (the lab DNS server stopped), THEN that is its own state too
        assert state.dns_pid
        os.kill(state.dns_pid, signal.SIGTERM)
        unresolved = crmdr("watch", "--once", "--json", "--inventory", str(fresh_lab.inventory_path), "--policy",
                           str(policy), "--journal-dir", str(tmp_path / "once-runs"))
        assert unresolved.returncode == 1, unresolved.stderr
        verdict = json.loads(unresolved.stdout)
        assert verdict["status"] == "dns unreachable" and verdict["reason"].startswith("DNS: cannot resolve")
        assert not list((tmp_path / "once-runs").glob("*.jsonl"))
    finally:
        for watch in watches:
            watch.stop()
