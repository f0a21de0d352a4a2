"""A crmdr process held at an exact point (CRMDR_TEST_PAUSE_AT / CRMDR_TEST_HOLD_AT, recovery/adapters/
fault_hooks.py) for a fault test: start it, wait until it is there, make the fault, release it, time it."""

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from recovery.adapters.aws_session import client
from recovery.inventory import Inventory
from tests.conftest import ROOT
from tests.lab.conftest import Lab

TOOL_LIMIT = 120.0
"""Longer than any timeout of the tool: a process still running then is a hang."""


def start(inventory: Path, env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    """`crmdr ARGS --inventory INVENTORY` with `env` added; faulthandler on, so SIGABRT shows every stack."""
    return subprocess.Popen(
        [sys.executable, "-m", "crmdr", *args, "--inventory", str(inventory)],
        env={**os.environ, **env, "PYTHONFAULTHANDLER": "1"}, cwd=ROOT,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def start_paused(inventory: Path, gate: Path, point: str, *args: str) -> subprocess.Popen[str]:
    """`crmdr ARGS` that waits at `point` (creating GATE.reached) until `gate` exists."""
    return start(inventory, {"CRMDR_TEST_PAUSE_AT": f"{point}:{gate}"}, *args)


def start_backup_with_open_upload(lab: Lab, gate: Path, *args: str) -> subprocess.Popen[str]:
    """`crmdr backup run ARGS`, uncompressed (the lab's zstd stream, 4 MB, is one put: no upload to
    abort or cut), paused at `upload-part` until the bucket lists its multipart upload."""
    process = start_paused(lab.inventory_path, gate, "upload-part", "backup", "run", "--compress", "none", *args)
    wait_file(Path(f"{gate}.reached"), process, 180)
    deadline = time.monotonic() + 30
    while not open_uploads(lab.inventory):
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail("the paused backup has no multipart upload open after 30 s")
        time.sleep(0.05)
    return process


def open_uploads(inventory: Inventory) -> list[dict[str, Any]]:
    """The backup bucket's multipart uploads never completed nor aborted."""
    found: list[dict[str, Any]] = client(inventory.aws, "s3", inventory.backup.region).list_multipart_uploads(
        Bucket=inventory.backup.bucket).get("Uploads", [])
    return found


def wait_file(path: Path, process: subprocess.Popen[str], timeout: float) -> None:
    """Until `path` exists; the test fails (the process killed, its stderr's end shown) when the process
    exits first or `timeout` seconds pass."""
    deadline = time.monotonic() + timeout
    while not path.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            _, err = process.communicate()
            pytest.fail(f"{path.name} never appeared (exit {process.returncode}): {err[-2000:]}")
        time.sleep(0.05)


def release(process: subprocess.Popen[str], gate: Path, fault: Callable[[], object],
            what: str) -> tuple[str, str, float]:
    """Make the fault, release the pause; the output and the seconds from the fault to the exit. A process
    still running TOOL_LIMIT seconds later fails the test with every thread's stack ("hung: ... after WHAT")."""
    fault()
    began = time.monotonic()
    gate.touch()
    try:
        out, err = process.communicate(timeout=TOOL_LIMIT)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGABRT)
        _, err = process.communicate()
        pytest.fail(f"hung: still running {TOOL_LIMIT:g}s after {what}: {err[-6000:]}")
    return out, err, time.monotonic() - began
