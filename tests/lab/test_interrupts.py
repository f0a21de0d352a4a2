"""Real signals to real `crmdr` processes held at a known step (the engine's CRMDR_TEST_HOLD_AT).

Holds: "Ctrl-C" of issue 12 — SIGINT during `failover --yes` exited 130 silently, left no
`aborted` line, and a plain re-run suggested `--accept-data-loss` instead of `--resume RUN`.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from recovery.runbooks.journal.files import read_events
from tests.conftest import ROOT
from tests.lab.conftest import Lab
from tests.lab.runbook_helpers import roles, run

pytestmark = [pytest.mark.lab, pytest.mark.slow]


def held(lab: Lab, runbook: str, journal: Path, step: str, gate: Path, *args: str) -> subprocess.Popen[str]:
    """A real `crmdr RUNBOOK --yes` that waits before STEP until GATE exists."""
    return subprocess.Popen(
        [sys.executable, "-m", "crmdr", runbook, "--inventory", str(lab.inventory_path), "--journal-dir",
         str(journal), "--yes", *args],
        env={**os.environ, "CRMDR_TEST_HOLD_AT": f"{step}:{gate}"}, cwd=ROOT,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_held(journal: Path, runbook: str, gate: Path, process: subprocess.Popen[str]) -> str:
    """The run id, once the run stands at the held step (the engine touched GATE.held)."""
    deadline = time.monotonic() + 180
    while not Path(f"{gate}.held").exists():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, f"{runbook} never reached the held step"
        time.sleep(0.05)
    (path,) = journal.glob(f"{runbook}-*.jsonl")  # the first of its runbook in this journal
    return path.stem


def interrupt(process: subprocess.Popen[str], signum: int) -> tuple[int, str]:
    process.send_signal(signum)
    _out, err = process.communicate(timeout=120)
    return process.returncode, err


def test_signals_abort_the_step_name_the_resume_and_a_plain_rerun_refuses(fresh_lab: Lab, tmp_path: Path) -> None:
    journal = tmp_path / "runs"
    # SIGINT while failover waits before promote: the primary is fenced, the standby not promoted
    failover = held(fresh_lab, "failover", journal, "promote", tmp_path / "f")
    run_id = wait_held(journal, "failover", tmp_path / "f", failover)
    code, err = interrupt(failover, signal.SIGINT)

    assert code == 130, err
    assert "interrupted by SIGINT at step promote" in err and f"--resume {run_id}" in err, err
    assert "Traceback" not in err
    events = read_events(run_id, journal)
    assert [(e.step, e.status) for e in events[-2:]] == [("promote", "aborted"), ("run", "aborted")]
    assert roles(fresh_lab) == {"primary": "down", "standby": "standby"}

    plain = run(fresh_lab, "failover", journal, "--yes")
    assert plain.returncode == 3, plain.stderr
    assert run_id in plain.stderr and f"--resume {run_id}" in plain.stderr
    assert "--accept-data-loss" not in plain.stderr, plain.stderr
    assert len(list(journal.glob("failover-*.jsonl"))) == 1, "the refused re-run started no run"

    resumed = run(fresh_lab, "failover", journal, "--yes", "--resume", run_id)
    assert resumed.returncode == 0, resumed.stderr
    assert roles(fresh_lab) == {"primary": "down", "standby": "primary"}

    # SIGTERM while failback waits before its switch: exit 143, the same contract, then resume
    failback = held(fresh_lab, "failback", journal, "stop-writes", tmp_path / "b")
    back_id = wait_held(journal, "failback", tmp_path / "b", failback)
    code, err = interrupt(failback, signal.SIGTERM)
    assert code == 143, err
    assert "interrupted by SIGTERM" in err and f"--resume {back_id}" in err, err
    assert read_events(back_id, journal)[-1].status == "aborted"
    refused = run(fresh_lab, "failback", journal, "--yes")
    assert refused.returncode == 3 and f"--resume {back_id}" in refused.stderr, refused.stderr
    assert run(fresh_lab, "failback", journal, "--yes", "--resume", back_id).returncode == 0
    assert roles(fresh_lab) == {"primary": "primary", "standby": "standby"}


def test_sighup_and_an_explicit_discard(fresh_lab: Lab, tmp_path: Path) -> None:
    """SIGHUP (a closed terminal) is 129; `--discard RUN` is journalled in the run it gives up."""
    journal = tmp_path / "runs"
    switchover = held(fresh_lab, "switchover", journal, "stop-writes", tmp_path / "s")
    first = wait_held(journal, "switchover", tmp_path / "s", switchover)
    code, err = interrupt(switchover, signal.SIGHUP)
    assert code == 129, err
    assert f"--resume {first}" in err and "interrupted by SIGHUP" in err, err

    discarded = run(fresh_lab, "switchover", journal, "--yes", "--discard", first)
    assert discarded.returncode == 0, discarded.stderr
    assert [e.step for e in read_events(first, journal)][-1] == "discard"
    assert run(fresh_lab, "switchover", journal, "--yes", "--resume", first).returncode == 2
    assert roles(fresh_lab) == {"primary": "standby", "standby": "primary"}
