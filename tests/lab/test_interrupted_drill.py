"""An interrupted failover drill rolls back and leaves a signed ABORTED report in the chain.

Holds "Interrupted drill" of issue 12: SIGINT during a host-lost drill left the primary down and
the standby promoted, wrote no report and left `drill due` unchanged. The signal lands at a known
moment: the drill's failover waits before `promote` (CRMDR_TEST_HOLD_AT), the primary lost and fenced.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from drills.lab import netfault
from recovery.adapters import local_firewall
from recovery.adapters.route53_dns import Route53Dns
from tests.conftest import ROOT, crmdr
from tests.lab.conftest import Lab
from tests.lab.runbook_helpers import roles

pytestmark = [pytest.mark.lab, pytest.mark.slow]


@pytest.mark.lab_settings(synchronous=True)
def test_sigint_during_a_host_lost_drill_rolls_back_with_a_signed_aborted_report(fresh_lab: Lab,
                                                                                  tmp_path: Path) -> None:
    out, gate = tmp_path / "reports", tmp_path / "gate"
    before = roles(fresh_lab)
    drill = subprocess.Popen(
        [sys.executable, "-m", "crmdr", "drill", "run", "--type", "failover", "--scenario", "host-lost", "--tier",
         "gold", "--inventory", str(fresh_lab.inventory_path), "--out", str(out)],
        env={**os.environ, "CRMDR_TEST_HOLD_AT": f"promote:{gate}"}, cwd=ROOT,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 240
    while not Path(f"{gate}.held").exists():
        assert drill.poll() is None, drill.communicate()
        assert time.monotonic() < deadline, "the drill's failover never reached promote"
        time.sleep(0.05)
    assert roles(fresh_lab)["primary"] == "down"  # disrupted and fenced: the moment the issue describes
    drill.send_signal(signal.SIGINT)
    gate.touch()  # the rollback's own resume passes the hold
    _out, err = drill.communicate(timeout=600)

    assert drill.returncode == 130, err
    assert "interrupted by SIGINT during the failover" in err and "ABORTED report" in err, err
    (report_dir,) = [p for p in out.iterdir() if p.is_dir() and not p.name.startswith(".")]
    document = json.loads((report_dir / "report.json").read_text())
    assert document["passed"] is False and "step promote" in document["aborted"], document["aborted"]
    assert document["deviations"][0].startswith("ABORTED: ")
    cleanup = {c["name"]: c for c in document["cleanup"]}
    assert all(c["passed"] for c in cleanup.values()), cleanup
    assert {"undo host-lost", "finish the interrupted failover", "fail back"} <= set(cleanup)
    verified = crmdr("report", "verify", str(out))
    assert verified.returncode == 0, verified.stdout + verified.stderr

    primary = str(fresh_lab.settings.primary_ip)
    assert roles(fresh_lab) == before == {"primary": "primary", "standby": "standby"}
    assert Route53Dns(fresh_lab.inventory).resolve() == primary
    assert not netfault.is_cut(primary) and not local_firewall.is_cut(primary, local_firewall.ISOLATION)
    due = crmdr("drill", "due", "--tier", "gold", "--out", str(out), "--json",
                "--inventory", str(fresh_lab.inventory_path))
    failover = next(d for d in json.loads(due.stdout)["drills"] if d["type"] == "failover")
    assert failover["last_passed"] is None and failover["last_run"] is not None, failover
