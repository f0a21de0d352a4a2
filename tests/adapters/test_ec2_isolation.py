"""Fence by isolation on EC2 (moto): the instance's groups swapped for an empty one, and back."""

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from policies.errors import ConfigError
from recovery.adapters.ec2_isolation import ORIGINAL_GROUPS_TAG, Ec2SecurityGroupIsolator
from recovery.adapters.isolation import isolator_for
from recovery.inventory import HostNode, Inventory, load_inventory
from tests.conftest import make_inventory


@pytest.fixture
def ec2(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        yield boto3.client("ec2", region_name="us-east-1")


def _world(ec2: Any, *, empty: bool = True) -> tuple[Inventory, HostNode, list[str], str]:
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.0.0/24")["Subnet"]["SubnetId"]
    app = [ec2.create_security_group(GroupName=f"db-{i}", Description="db", VpcId=vpc)["GroupId"] for i in (1, 2)]
    iso = ec2.create_security_group(GroupName="isolation", Description="no rules", VpcId=vpc)["GroupId"]
    if empty:
        ec2.revoke_security_group_egress(GroupId=iso, IpPermissions=[{"IpProtocol": "-1",
                                                                      "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    instance = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, SubnetId=subnet,
                                 SecurityGroupIds=app)["Instances"][0]["InstanceId"]
    inventory = make_inventory(**{"database.primary.instance_id": instance, "database.standby.instance_id": "i-2",
                                  "database.isolation": {"method": "ec2-security-group", "security_group_id": iso}})
    node = inventory.database.primary
    assert isinstance(node, HostNode)
    return inventory, node, app, iso


def _groups(ec2: Any, instance: str) -> list[str]:
    found = ec2.describe_instances(InstanceIds=[instance])["Reservations"][0]["Instances"][0]
    return sorted(g["GroupId"] for g in found["SecurityGroups"])


def test_isolate_swaps_groups_then_release_restores_them(ec2: Any) -> None:
    inventory, node, app, iso = _world(ec2)
    isolator = isolator_for(inventory)
    assert isinstance(isolator, Ec2SecurityGroupIsolator)
    assert not isolator.is_isolated(node)

    how = isolator.isolate(node)

    assert iso in how and all(g in how for g in app)
    assert _groups(ec2, str(node.instance_id)) == [iso]
    assert isolator.is_isolated(node)
    assert "already isolated" in isolator.isolate(node)  # idempotent: the tag keeps the originals
    tags = ec2.describe_tags(Filters=[{"Name": "key", "Values": [ORIGINAL_GROUPS_TAG]}])["Tags"]
    assert sorted(tags[0]["Value"].split(",")) == sorted(app)

    isolator.release(node)

    assert _groups(ec2, str(node.instance_id)) == sorted(app)
    assert not isolator.is_isolated(node)
    assert "not isolated" in isolator.release(node)


def test_isolation_group_with_rules_is_refused(ec2: Any) -> None:
    inventory, node, app, _ = _world(ec2, empty=False)
    isolator = isolator_for(inventory)
    assert isolator is not None
    with pytest.raises(ConfigError, match="has rules"):
        isolator.isolate(node)
    assert _groups(ec2, str(node.instance_id)) == sorted(app)


def test_inventory_without_instance_ids_is_rejected(tmp_path: Path) -> None:
    data = make_inventory().model_dump(mode="json")
    data["database"]["isolation"] = {"method": "ec2-security-group", "security_group_id": "sg-123"}
    path = tmp_path / "inventory.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ConfigError, match="instance_id"):
        load_inventory(path)


def test_node_without_instance_id_is_a_config_error(ec2: Any) -> None:
    inventory = make_inventory(**{"database.primary.instance_id": "i-0123456789abcdef0"})
    isolator = Ec2SecurityGroupIsolator(inventory, "sg-123")
    with pytest.raises(ConfigError, match="instance_id"):
        isolator.isolate(inventory.database.standby)  # type: ignore[arg-type]


def test_old_inventories_have_no_isolation() -> None:
    assert isolator_for(make_inventory()) is None
