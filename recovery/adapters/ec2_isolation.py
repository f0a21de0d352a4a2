"""Fence an unreachable EC2 database host by swapping its security groups for an empty one.

The instance's groups are replaced by the inventory's isolation group, which must have no
rules at all (no ingress, no egress): no new connection reaches the host or leaves it. The
groups it had are kept in the instance tag `crmdr:isolated-from`, written before the swap,
so `release` (failback) restores them even after a crash of crmdr in between.

Caveat, as AWS documents it: connections already tracked by a security group are not
always cut at once when rules change; stopping the instance is the stronger fence when
the EC2 API can still do it. Only the primary network interface's groups are swapped.
"""

import logging
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from policies.errors import CloudError, ConfigError
from recovery.adapters.aws_session import client, retryable
from recovery.inventory import HostNode, Inventory

log = logging.getLogger(__name__)

ORIGINAL_GROUPS_TAG = "crmdr:isolated-from"


class Ec2SecurityGroupIsolator:
    """`database.isolation.method: ec2-security-group` (needs `instance_id` on the node)."""

    def __init__(self, inventory: Inventory, security_group_id: str) -> None:
        self._aws = inventory.aws
        self._group = security_group_id

    def _client(self, node: HostNode) -> Any:
        return client(self._aws, "ec2", node.region)

    def _instance(self, node: HostNode) -> tuple[str, dict[str, Any]]:
        if not node.instance_id:
            raise ConfigError(f"database node {node.name}: isolation by security group needs its instance_id "
                              "in the inventory")
        try:
            reservations = self._client(node).describe_instances(InstanceIds=[node.instance_id])["Reservations"]
        except (ClientError, BotoCoreError) as err:
            raise CloudError(f"EC2: cannot read instance {node.instance_id} of {node.name} ({err})",
                             retryable=retryable(err)) from None
        return node.instance_id, reservations[0]["Instances"][0]

    def _check_group_empty(self, node: HostNode) -> None:
        try:
            group = self._client(node).describe_security_groups(GroupIds=[self._group])["SecurityGroups"][0]
        except (ClientError, BotoCoreError) as err:
            raise CloudError(f"EC2: cannot read the isolation group {self._group} ({err})",
                             retryable=retryable(err)) from None
        if group.get("IpPermissions") or group.get("IpPermissionsEgress"):
            raise ConfigError(f"database.isolation.security_group_id: {self._group} has rules; an isolation "
                              "group must have none (no ingress, no egress)")

    def isolate(self, node: HostNode) -> str:
        instance_id, instance = self._instance(node)
        groups = [g["GroupId"] for g in instance.get("SecurityGroups", [])]
        if groups == [self._group]:
            return f"EC2 {instance_id} already isolated in {self._group}"
        self._check_group_empty(node)
        ec2 = self._client(node)
        try:
            ec2.create_tags(Resources=[instance_id], Tags=[{"Key": ORIGINAL_GROUPS_TAG, "Value": ",".join(groups)}])
            ec2.modify_instance_attribute(InstanceId=instance_id, Groups=[self._group])
        except (ClientError, BotoCoreError) as err:
            raise CloudError(f"EC2: cannot isolate {instance_id} of {node.name} ({err})",
                             retryable=retryable(err)) from None
        log.warning("isolated %s (%s): groups %s replaced by %s", node.name, instance_id, groups, self._group)
        return (f"EC2 {instance_id}: security groups {','.join(groups)} replaced by {self._group} (no rules); "
                f"the originals kept in tag {ORIGINAL_GROUPS_TAG}")

    def is_isolated(self, node: HostNode) -> bool:
        _, instance = self._instance(node)
        return [g["GroupId"] for g in instance.get("SecurityGroups", [])] == [self._group]

    def release(self, node: HostNode) -> str:
        instance_id, instance = self._instance(node)
        tags = {t["Key"]: t["Value"] for t in instance.get("Tags", [])}
        original = [g for g in tags.get(ORIGINAL_GROUPS_TAG, "").split(",") if g]
        current = [g["GroupId"] for g in instance.get("SecurityGroups", [])]
        if current != [self._group]:
            return f"EC2 {instance_id} is not isolated (groups {','.join(current)})"
        if not original:
            raise CloudError(f"EC2 {instance_id} is isolated but its tag {ORIGINAL_GROUPS_TAG} is missing: "
                             "restore its security groups by hand")
        ec2 = self._client(node)
        try:
            ec2.modify_instance_attribute(InstanceId=instance_id, Groups=original)
            ec2.delete_tags(Resources=[instance_id], Tags=[{"Key": ORIGINAL_GROUPS_TAG}])
        except (ClientError, BotoCoreError) as err:
            raise CloudError(f"EC2: cannot release {instance_id} of {node.name} ({err})",
                             retryable=retryable(err)) from None
        return f"EC2 {instance_id}: security groups {','.join(original)} restored"
