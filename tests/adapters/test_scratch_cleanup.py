"""The restore-test's cleanup is checked, not assumed: a leftover directory or process is reported."""

import os
import subprocess
from pathlib import Path

import pytest

from recovery.adapters.scratch_pg import _gone

pytestmark = pytest.mark.adapters


def test_removed_and_stopped_is_clean(tmp_path: Path) -> None:
    found = _gone(tmp_path / "gone", None)
    assert found["clean"] is True and "removed" in str(found["detail"])


def test_a_leftover_directory_is_not_clean(tmp_path: Path) -> None:
    found = _gone(tmp_path, None)
    assert found["clean"] is False and "still present" in str(found["detail"])


def test_a_live_server_process_is_not_clean(tmp_path: Path) -> None:
    found = _gone(tmp_path / "gone", os.getpid(), wait=0.2)
    assert found["clean"] is False and f"still running (pid {os.getpid()})" in str(found["detail"])


def test_a_server_that_exits_a_moment_later_is_clean(tmp_path: Path) -> None:
    exiting = subprocess.Popen(["sleep", "0.3"])
    try:
        found = _gone(tmp_path / "gone", exiting.pid)
    finally:
        exiting.wait()
    assert found["clean"] is True, found
