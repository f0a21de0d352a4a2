"""Fence by isolation through the EC2 API: the failover swaps the lost primary's security groups.

The lab's hosts are not EC2 instances; the instances live in the lab's moto server (EC2 is
implemented there), so this proves the runbook's wiring and journal, not a packet filter.
"""

import json
from pathlib import Path
from typing import Any

import pytest

from drills.lab import postgres, sshd
from drills.lab.settings import LabPaths
from drills.lab.system import pg_bin_dir
from recovery.adapters.aws_session import client
from recovery.runbooks.journal.files import read_events
from tests.conftest import crmdr
from tests.lab.conftest import Lab
from tests.lab.runbook_helpers import result, roles

pytestmark = [pytest.mark.lab, pytest.mark.slow]


def instance(ec2: Any) -> tuple[str, list[str], str]:
    """An instance with two security groups, and an isolation group with no rules."""
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.0.0/24")["Subnet"]["SubnetId"]
    groups = [ec2.create_security_group(GroupName=f"db-{i}", Description="db", VpcId=vpc)["GroupId"] for i in (1, 2)]
    iso = ec2.create_security_group(GroupName="isolation", Description="no rules", VpcId=vpc)["GroupId"]
    ec2.revoke_security_group_egress(GroupId=iso, IpPermissions=[{"IpProtocol": "-1",
                                                                  "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    found = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, SubnetId=subnet, SecurityGroupIds=groups)
    return found["Instances"][0]["InstanceId"], groups, iso


def groups_of(ec2: Any, instance_id: str) -> list[str]:
    found = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]
    return sorted(g["GroupId"] for g in found["SecurityGroups"])


@pytest.mark.lab_settings(synchronous=True)
def test_lost_primary_is_isolated_by_security_group_swap(fresh_lab: Lab, tmp_path: Path) -> None:
    inv = fresh_lab.inventory
    ec2 = client(inv.aws, "ec2", inv.database.primary.region)
    primary_id, groups, iso = instance(ec2)
    data = json.loads(fresh_lab.inventory_path.read_text())
    data["database"]["primary"]["instance_id"] = primary_id
    data["database"]["standby"]["instance_id"] = "i-0standby0000000000"
    data["database"]["isolation"] = {"method": "ec2-security-group", "security_group_id": iso}
    inventory = tmp_path / "inventory.json"
    inventory.write_text(json.dumps(data))
    # GIVEN the primary host lost: PostgreSQL and sshd down
    paths = LabPaths(fresh_lab.dir)
    postgres.stop(paths, "primary", pg_bin_dir(), mode="immediate")
    sshd.stop(paths, "primary")

    done = result(crmdr("failover", "--inventory", str(inventory), "--journal-dir", str(tmp_path / "j"),
                        "--yes", "--json"))

    fence = next(e for e in read_events(done["run_id"], tmp_path / "j") if e.step == "fence"
                 and e.status == "succeeded")
    assert f"EC2 {primary_id}" in fence.evidence and iso in fence.evidence
    assert groups_of(ec2, primary_id) == [iso]
    tags = ec2.describe_tags(Filters=[{"Name": "resource-id", "Values": [primary_id]}])["Tags"]
    assert sorted(next(t["Value"] for t in tags if t["Key"] == "crmdr:isolated-from").split(",")) == sorted(groups)
    assert roles(fresh_lab)["standby"] == "primary"
