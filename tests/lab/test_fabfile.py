"""The Fabric tasks as an SRE runs them: `fab -H primary,standby status` against a lab, through
the real `fab` entry point; errors are one sentence with crmdr's exit codes."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.lab.conftest import Lab
from tests.lab.runbook_helpers import role_files, roles

pytestmark = pytest.mark.lab

FAB = Path(sys.executable).with_name("fab")


def _fab(lab: Lab, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(FAB), *args], capture_output=True, text=True, timeout=120, cwd=ROOT,
                          stdin=subprocess.DEVNULL, env={**os.environ, "CRMDR_INVENTORY": str(lab.inventory_path)})


def test_status_of_both_hosts(shared_lab: Lab) -> None:
    done = _fab(shared_lab, "-H", "primary,standby", "status")

    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("primary: primary; cluster_name=primary; timeline=")
    assert lines[1].startswith("standby: standby; cluster_name=standby;")
    assert f"upstream={shared_lab.settings.primary_ip}" in lines[1] and "standby.signal=yes" in lines[1]


def test_unknown_host_is_one_sentence_exit_2(shared_lab: Lab) -> None:
    done = _fab(shared_lab, "-H", "nosuch", "status")

    assert done.returncode == 2
    assert done.stderr.strip() == "fab status: no database node named 'nosuch' (known: primary, standby)"


def test_fence_without_terminal_or_yes_is_refused_and_changes_nothing(shared_lab: Lab) -> None:
    before = role_files(shared_lab)

    done = _fab(shared_lab, "-H", "primary", "fence")

    assert done.returncode == 3
    assert "no terminal to confirm on; pass --yes" in done.stderr and "Traceback" not in done.stderr
    assert role_files(shared_lab) == before and roles(shared_lab)["primary"] == "primary"


def test_isolate_then_release_a_host(shared_lab: Lab) -> None:
    from recovery.adapters import local_firewall

    standby = str(shared_lab.settings.standby_ip)
    try:
        done = _fab(shared_lab, "-H", "standby", "isolate", "--yes")
        assert done.returncode == 0, done.stderr
        assert f"every packet to and from {standby} dropped" in done.stdout
        assert local_firewall.is_cut(standby, local_firewall.ISOLATION)
    finally:
        released = _fab(shared_lab, "-H", "standby", "release", "--yes")
    assert released.returncode == 0, released.stderr
    assert not local_firewall.is_cut(standby, local_firewall.ISOLATION)
    assert roles(shared_lab)["standby"] == "standby"
