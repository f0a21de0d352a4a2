"""`crmdr watch` records its probes as per-minute buckets in the DR region (the series credits are counted from)."""

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from outage.adapters.dr_bucket import DrBucket
from tests.conftest import ROOT
from tests.lab.conftest import Lab

pytestmark = pytest.mark.lab


def test_a_running_watch_writes_its_probes_per_minute_and_flushes_on_exit(shared_lab: Lab, tmp_path: Path) -> None:
    command = [sys.executable, "-m", "crmdr", "watch", "--interval", "0.2", "--json", "--inventory",
               str(shared_lab.inventory_path), "--journal-dir", str(tmp_path / "runs")]
    watcher = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        assert watcher.stdout is not None
        assert json.loads(watcher.stdout.readline())["status"] == "healthy"
        time.sleep(2)
        watcher.send_signal(signal.SIGINT)  # an operator's Ctrl-C: the open minute is still written
        _out, err = watcher.communicate(timeout=60)
    finally:
        watcher.kill()
    assert watcher.returncode == 130, err
    bucket = DrBucket(shared_lab.inventory)
    keys = [k for k in bucket.keys("availability/") if f"-{watcher.pid}-" in k]  # this watch's objects
    assert len(keys) in (1, 2) and all(k.endswith(".jsonl") for k in keys)  # one object per hour of this writer
    lines = [json.loads(line) for key in keys for line in (bucket.get(key) or b"").decode().splitlines()]
    assert {line["component"] for line in lines} == {"database"}
    assert sum(line["failed"] for line in lines) == 0
    assert 5 <= sum(line["ok"] for line in lines) <= 15  # ~2 s at 0.2 s, plus the first probe
