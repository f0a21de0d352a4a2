"""crmdr failover for `engine: rds` against moto: restore the newest DR snapshot (CLI, moto
server), refusals (lag above the tier, primary region unreachable), fencing, promotion.

moto 5.2 lacks one behaviour: `promote_read_replica` leaves ReadReplicaSourceDBInstanceIdentifier
on the promoted instance, so nothing could ever see the promotion finish. The promotion test
therefore uses botocore's Stubber for the DR client (promote + the describes after it); every
other call runs against moto.
"""

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from policies.errors import Refused
from recovery.adapters.rds import RdsInstances, fence_group
from recovery.runbooks.journal.files import read_events
from recovery.runbooks.rds_decisions import rds_fenced, rds_stopped, standalone
from recovery.runbooks.rds_failover import RDS_FAILOVER
from recovery.runbooks.rds_site import open_rds_site
from recovery.runbooks.run import Options, execute
from tests.adapters.conftest import ENV
from tests.adapters.rds_world import PRIMARY, REPLICA, build, rds_inventory, state, write
from tests.conftest import crmdr

pytestmark = pytest.mark.adapters

FAST = {"Delay": 0, "MaxAttempts": 3}


@pytest.fixture
def in_process(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        yield


def _cli(path: Path, journal: Path, *args: str) -> "tuple[int, str, str]":
    done = crmdr("failover", "--inventory", str(path), "--journal-dir", str(journal), *args, env=ENV)
    return done.returncode, done.stdout, done.stderr


@pytest.mark.slow
def test_cli_failover_restores_the_newest_dr_snapshot_and_moves_the_name(moto_url: str, tmp_path: Path) -> None:
    inventory = build(rds_inventory(moto_url), replica=False)
    path = write(inventory, tmp_path)
    before = state(inventory)

    code, out, err = _cli(path, tmp_path / "runs", "--dry-run")
    assert code == 0, err
    assert "TO DO promote" in out and state(inventory) == before, "a dry run changes nothing"

    code, out, err = _cli(path, tmp_path / "runs", "--yes", "--accept-data-loss", "--json")

    assert code == 0, err
    result = json.loads(out)
    events = read_events(result["run_id"], tmp_path / "runs")
    done = {e.step: e for e in events if e.status in ("succeeded", "skipped")}
    assert {"preflight", "lock", "fence", "promote", "stop-old", "dns", "validate", "run"} <= set(done)
    assert "restored crmdr-point-1" in done["promote"].evidence
    assert "validation: describe-only" in done["validate"].evidence
    rds_west = boto3.client("rds", region_name="us-west-2", endpoint_url=moto_url)
    restored = rds_west.describe_db_instances(DBInstanceIdentifier=REPLICA)["DBInstances"][0]
    # moto does not echo PubliclyAccessible back: only the tags prove which instance this is
    assert {"Key": "crmdr:restored-from", "Value": "crmdr-point-1"} in restored["TagList"]
    after = state(inventory)
    assert after[f"us-east-1/{PRIMARY}"] == ("stopped", [fence_group("15.4")])
    assert all(restored["Endpoint"]["Address"] in r for r in after["records"] if "CNAME" in r)
    assert after["lock"] == [] or all("run_id" not in item for item in after["lock"])

    code, out, _ = _cli(path, tmp_path / "runs", "--yes")
    assert code == 0 and "nothing to do" in out


def test_replica_lag_above_the_tier_is_refused_and_nothing_changes(moto_url: str, tmp_path: Path) -> None:
    inventory = build(rds_inventory(moto_url), replica=True)
    boto3.client("cloudwatch", region_name="us-west-2", endpoint_url=moto_url).put_metric_data(
        Namespace="AWS/RDS", MetricData=[{"MetricName": "ReplicaLag", "Value": 60.0, "Unit": "Seconds",
                                          "Dimensions": [{"Name": "DBInstanceIdentifier", "Value": REPLICA}]}])
    before = state(inventory)

    code, _, err = _cli(write(inventory, tmp_path), tmp_path / "runs", "--yes")

    assert code == 3
    assert "ReplicaLag 60s" in err and "--accept-data-loss" in err
    assert state(inventory) == before and not (tmp_path / "runs").exists()


def test_unreachable_primary_region_is_refused_unless_forced_then_fencing_is_dns_only(
        in_process: None, tmp_path: Path) -> None:
    inventory = build(rds_inventory(), replica=False)
    site = open_rds_site(inventory)
    site.unreachable = "cannot describe RDS instance crm-primary in us-east-1: connect timeout"  # the outage
    before = state(inventory)

    with pytest.raises(Refused, match="--force-unfenced"):
        execute(RDS_FAILOVER, site, Options(journal_dir=tmp_path, accept_data_loss=True))
    assert state(inventory) == before

    result = execute(RDS_FAILOVER, site, Options(journal_dir=tmp_path, accept_data_loss=True, force_unfenced=True))

    fence = next(e for e in read_events(result.run_id, tmp_path) if e.step == "fence" and e.status == "succeeded")
    assert "NOT FENCED" in fence.evidence and "DNS-only" in fence.evidence
    assert state(inventory)[f"us-east-1/{PRIMARY}"][0] == "available", "nothing touched the unreachable region"


def test_fence_reboots_read_only_then_stop_stops(in_process: None) -> None:
    inventory = build(rds_inventory(), replica=False)
    rds = RdsInstances(inventory, wait=FAST)
    old = rds.describe("us-east-1", PRIMARY)
    group = fence_group("15.4")
    assert not rds_fenced(old, PRIMARY, group).done

    rds.fence_read_only("us-east-1", old or {})
    assert rds_fenced(rds.describe("us-east-1", PRIMARY), PRIMARY, group).done
    params = boto3.client("rds", region_name="us-east-1").describe_db_parameters(DBParameterGroupName=group)
    assert {"default_transaction_read_only": "1"}.items() <= {
        p["ParameterName"]: p.get("ParameterValue") for p in params["Parameters"]}.items()

    rds.stop("us-east-1", PRIMARY)
    assert rds_stopped(rds.describe("us-east-1", PRIMARY), PRIMARY).done
    assert rds.describe("us-east-1", "no-such-instance") is None


def test_promoting_the_replica_detaches_it(in_process: None) -> None:
    inventory = build(rds_inventory(), replica=True)
    rds = RdsInstances(inventory, wait=FAST)
    replica = rds.describe("us-west-2", REPLICA) or {}
    assert not standalone(replica, REPLICA).done
    promoted = {k: v for k, v in replica.items() if k != "ReadReplicaSourceDBInstanceIdentifier"}
    dr = rds._rds["us-west-2"]
    with Stubber(dr) as stub:  # moto keeps the replica link after promotion: stub what AWS answers
        stub.add_response("promote_read_replica", {"DBInstance": {**replica, "DBInstanceStatus": "modifying"}},
                          {"DBInstanceIdentifier": REPLICA})
        stub.add_response("describe_db_instances", {"DBInstances": [promoted]}, {"DBInstanceIdentifier": REPLICA})
        stub.add_response("describe_db_instances", {"DBInstances": [promoted]}, {"DBInstanceIdentifier": REPLICA})

        rds.promote(REPLICA)
        rds.wait_available("us-west-2", REPLICA)
        assert standalone(rds.describe("us-west-2", REPLICA), REPLICA).done
        stub.assert_no_pending_responses()


def test_replica_lag_comes_from_cloudwatch(in_process: None) -> None:
    inventory = build(rds_inventory(), replica=True)
    rds = RdsInstances(inventory, wait=FAST)
    assert rds.replica_lag(REPLICA, datetime.now(UTC)) is None
    boto3.client("cloudwatch", region_name="us-west-2").put_metric_data(
        Namespace="AWS/RDS", MetricData=[{"MetricName": "ReplicaLag", "Value": v, "Unit": "Seconds",
                                          "Dimensions": [{"Name": "DBInstanceIdentifier", "Value": REPLICA}]}
                                         for v in (0.5, 2.5)])
    assert rds.replica_lag(REPLICA, datetime.now(UTC)) == 2.5
