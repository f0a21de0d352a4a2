"""An AWS fault in the middle of a failover: the real runbook (`execute(FAILOVER, ...)`) over the
in-memory hosts of tests/unit/failover_model.py, with the real Route53Dns, DynamoLock and the
S3 journal mirror against in-process moto. Route 53 denies ChangeResourceRecordSets (a
before-send hook ahead of moto, tests/adapters/aws_faults.py): the run stops after one try
with a CloudError (exit 1), the journal says where, the lock is free, and once the
permission is back `--resume` converges."""

from collections.abc import Iterator
from pathlib import Path
from unittest import mock

import boto3
import pytest

from policies.errors import CloudError
from recovery.adapters.dynamo_lock import DynamoLock
from recovery.adapters.route53_dns import Route53Dns
from recovery.adapters.s3_store import S3ObjectStore
from recovery.inventory import HostNode
from recovery.runbooks import failover
from recovery.runbooks.failover import FAILOVER
from recovery.runbooks.journal.files import read_events
from recovery.runbooks.run import Options, execute
from tests.adapters.aws_faults import Fault, deny
from tests.conftest import make_inventory
from tests.unit.failover_model import ModelSite, World, open_model_site

pytestmark = pytest.mark.adapters


class MotoDns(Route53Dns):
    """The real adapter; the model's clients follow the records it writes."""

    def __init__(self, world: World) -> None:
        super().__init__(world.inventory)
        self.world = world

    def point_to(self, primary: tuple[str, str | None], secondary: tuple[str, str | None],
                 kind: str = "A") -> None:
        super().point_to(primary, secondary, kind)
        self.world.dns = {"PRIMARY": primary[0], "SECONDARY": secondary[0]}
        self.world.effect("dns", f"{primary[0]}/{secondary[0]}")


@pytest.fixture
def world(dr_key_id: str) -> Iterator[World]:
    """A healthy asynchronous pair; its inventory names moto's zone, lock table and bucket."""
    boto3.client("dynamodb", region_name="us-west-2").create_table(
        TableName="crmdr-locks", KeySchema=[{"AttributeName": "lock_id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "lock_id", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST")
    zone = boto3.client("route53", region_name="us-east-1").create_hosted_zone(
        Name="crm.example.", CallerReference="failover-faults")["HostedZone"]["Id"].split("/")[-1]
    world = World(synchronous=False)
    world.inventory = make_inventory(**{"backup.kms_key_id": dr_key_id, "dns.zone_id": zone})
    Route53Dns(world.inventory).point_to((world.dns["PRIMARY"], None), (world.dns["SECONDARY"], None))
    with mock.patch.object(failover, "WRITE_WAIT_SECONDS", 0.3):
        yield world


def real_site(world: World) -> ModelSite:
    site = open_model_site(world)
    site.dns, site.lock, site.store = MotoDns(world), DynamoLock(world.inventory), S3ObjectStore(world.inventory)
    return site


def test_route53_access_denied_mid_failover_stops_once_and_resume_converges(world: World, tmp_path: Path) -> None:
    primary, standby = world.inventory.database.primary, world.inventory.database.standby
    assert isinstance(primary, HostNode) and isinstance(standby, HostNode)
    for _ in range(3):
        assert world.write()
    site = real_site(world)
    fault: Fault = deny(site.dns._client, "route53", "ChangeResourceRecordSets")

    with pytest.raises(CloudError) as err:
        execute(FAILOVER, site, Options(journal_dir=tmp_path, drill=True))

    assert err.value.exit_code == 1 and "failover failed at step dns" in str(err.value)
    assert "AccessDenied" in str(err.value) and "--resume" in str(err.value)
    assert fault.attempts == 1  # not retried: AccessDenied is final
    run = next(tmp_path.glob("*.jsonl")).stem
    events = read_events(run, tmp_path)
    dns = [(e.status, e.attempt) for e in events if e.step == "dns"]
    assert dns == [("started", 1), ("failed", 1)]
    assert [e.status for e in events if e.step == "run"] == ["started", "failed"]
    assert {e.step for e in events if e.status == "succeeded"} >= {"fence", "promote"}
    assert DynamoLock(world.inventory).current() is None
    assert Route53Dns(world.inventory).resolve() == primary.host
    old = world.by_host(world.dns["PRIMARY"])
    assert old is not None and not old.writable  # the name still points at the fenced old primary

    fault.times = 0  # the permission is back
    result = execute(FAILOVER, real_site(world), Options(resume=run, journal_dir=tmp_path, drill=True))

    assert result.status == "succeeded" and result.primary == standby.name
    assert Route53Dns(world.inventory).resolve() == standby.host
    assert world.writable_in_dns() == [standby.name]
    assert sum(1 for node in world.nodes.values() if node.writable) == 1
    assert DynamoLock(world.inventory).current() is None
    again = read_events(run, tmp_path)
    assert [(e.status, e.attempt) for e in again if e.step == "dns"][-2:] == [("started", 1), ("succeeded", 1)]
    assert any(run in obj.key for obj in S3ObjectStore(world.inventory).list(""))  # the journal mirror
