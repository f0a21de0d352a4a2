"""Issue 4: a failover that would promote a lagging standby is refused unless data loss is accepted."""

import time
from pathlib import Path

import pytest

from recovery.adapters.postgres import connect
from tests.conftest import ROOT
from tests.lab.conftest import Lab
from tests.lab.runbook_helpers import cloud_state, result, role_files, roles, run

pytestmark = [pytest.mark.lab, pytest.mark.slow]

MAX_LAG = "1s"


def strict_policy(tmp_path: Path) -> Path:
    """The shipped tiers with gold's max_replication_lag cut to MAX_LAG."""
    text = (ROOT / "policies" / "tiers.yaml").read_text()
    shipped = "    max_replication_lag: 10s\n"
    assert text.count(shipped) == 1, "gold's max_replication_lag moved: update this test"
    path = tmp_path / "tiers.yaml"
    path.write_text(text.replace(shipped, f"    max_replication_lag: {MAX_LAG}\n"))
    return path


def test_lagging_standby_refused_then_promoted_with_accept_data_loss(fresh_lab: Lab, tmp_path: Path) -> None:
    db, settings = fresh_lab.inventory.database, fresh_lab.settings
    policy = strict_policy(tmp_path)
    # GIVEN an asynchronous standby whose replay is paused while the primary keeps writing
    with connect(str(settings.standby_ip), settings.pg_port, user=db.user, password=fresh_lab.password,
                 dbname=db.name) as standby:
        standby.execute("SELECT pg_wal_replay_pause()")
    with connect(str(settings.primary_ip), settings.pg_port, user=db.user, password=fresh_lab.password,
                 dbname=db.name) as primary:
        for i in range(20):
            primary.execute("INSERT INTO crmdr_probe (id, writer) VALUES (%s, 'lag-test')", (9_000_000 + i,))
            time.sleep(0.1)  # spread the writes past the lag limit
    time.sleep(1.5)
    before = (role_files(fresh_lab), roles(fresh_lab), cloud_state(fresh_lab))

    # WHEN a failover is asked for under a policy allowing 1 s of lag
    refused = run(fresh_lab, "failover", tmp_path / "refused", "--yes", "--policy", str(policy))

    # THEN it is refused (exit 3) naming the lag, and nothing changed
    assert refused.returncode == 3, refused.stderr
    assert "lags" in refused.stderr and "--accept-data-loss" in refused.stderr
    assert (role_files(fresh_lab), roles(fresh_lab), cloud_state(fresh_lab)) == before
    assert not list((tmp_path / "refused").glob("*.jsonl"))

    # AND with --accept-data-loss it proceeds
    done = result(run(fresh_lab, "failover", tmp_path / "accepted", "--yes", "--accept-data-loss",
                      "--policy", str(policy), "--json"))
    assert done["primary"] == "standby"
    assert roles(fresh_lab) == {"primary": "down", "standby": "primary"}
