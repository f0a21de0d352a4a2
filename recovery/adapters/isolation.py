"""The isolator the inventory asks for (`database.isolation`), or None when it names none."""

from recovery.inventory import Ec2Isolation, Inventory
from recovery.ports import Isolator


def isolator_for(inventory: Inventory) -> Isolator | None:
    method = inventory.database.isolation
    if method is None:
        return None
    if isinstance(method, Ec2Isolation):
        from recovery.adapters.ec2_isolation import Ec2SecurityGroupIsolator

        return Ec2SecurityGroupIsolator(inventory, method.security_group_id)
    from recovery.adapters.local_firewall import LocalFirewallIsolator

    return LocalFirewallIsolator()
