"""App hosts re-pointed through Fabric: after a failover the app host's env file names the
standby, after failback the primary; an unreachable app host fails the step naming it while
the others are re-pointed, and a resumed run converges."""

import json
from pathlib import Path

import pytest

from drills.lab.settings import LabPaths
from recovery.envfile import env_value
from recovery.inventory import load_inventory
from tests.conftest import crmdr
from tests.lab.conftest import NET, Lab
from tests.lab.runbook_helpers import only_run, result, run

pytestmark = [pytest.mark.lab, pytest.mark.slow]


def _db_host(lab: Lab, file: Path | None = None) -> str | None:
    return env_value((file or LabPaths(lab.dir).app_config()).read_text())


def _with_second_app(lab: Lab, tmp_path: Path, *, ssh_port: int) -> Path:
    """The lab inventory plus a second app host 'app2' (same sshd, own file) on `ssh_port`."""
    data = json.loads(lab.inventory_path.read_text())
    app = data["app_hosts"][0]
    data["app_hosts"].append({**app, "name": "app2", "ssh_port": ssh_port,
                              "config_file": str(Path(app["config_file"]).with_name("crm2.env"))})
    path = tmp_path / "inventory.json"
    path.write_text(json.dumps(data))
    return path


@pytest.mark.lab_settings(app_ip=f"127.0.{NET}.23")
def test_failover_and_failback_re_point_the_app_hosts_and_a_down_one_is_named(fresh_lab: Lab, tmp_path: Path) -> None:
    settings = fresh_lab.settings
    assert _db_host(fresh_lab) == str(settings.primary_ip)
    journal = tmp_path / "runs"
    broken = _with_second_app(fresh_lab, tmp_path, ssh_port=1)  # nothing listens on port 1

    failed = crmdr("failover", "--inventory", str(broken), "--journal-dir", str(journal), "--yes")

    assert failed.returncode == 1
    assert "app2" in failed.stderr and "not re-pointed" in failed.stderr
    assert _db_host(fresh_lab) == str(settings.standby_ip), "the reachable app host was re-pointed anyway"
    run_id = only_run(journal)[0].run
    fixed = _with_second_app(fresh_lab, tmp_path, ssh_port=settings.ssh_port)
    assert load_inventory(fixed).app_hosts[1].ssh_port == settings.ssh_port

    resumed = crmdr("failover", "--inventory", str(fixed), "--journal-dir", str(journal), "--yes",
                    "--resume", run_id)

    assert resumed.returncode == 0, resumed.stderr
    second = Path(load_inventory(fixed).app_hosts[1].config_file)
    assert _db_host(fresh_lab) == _db_host(fresh_lab, second) == str(settings.standby_ip)
    events = only_run(journal)
    assert [e.status for e in events if e.step == "app-hosts"][-1] == "succeeded"

    back = result(run(fresh_lab, "failback", tmp_path / "back", "--yes", "--json"))

    assert back["primary"] == "primary"
    assert _db_host(fresh_lab) == str(settings.primary_ip)
    assert "CRM application settings" in LabPaths(fresh_lab.dir).app_config().read_text(), "other lines kept"
