"""Route 53 as an application sees it: the database name resolves to one address.

Failover routing answers with the PRIMARY record while its health check is healthy, else
with the SECONDARY one; resolution here follows the same rule from the record sets.
"""

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from policies.errors import CloudError
from recovery.adapters.aws_session import client, retryable
from recovery.inventory import Inventory


class Route53Dns:
    """Reads (and, for failover, moves) the database name's failover records."""

    def __init__(self, inventory: Inventory, probe_timeout: float | None = None) -> None:
        self._inventory = inventory
        self._dns = inventory.dns
        self._client = client(inventory.aws, "route53", inventory.regions.primary, probe_timeout=probe_timeout)

    def records(self) -> dict[str, dict[str, Any]]:
        """The failover record sets of the name, keyed PRIMARY / SECONDARY."""
        try:
            answer = self._client.list_resource_record_sets(
                HostedZoneId=self._dns.zone_id, StartRecordName=self._dns.record_name, StartRecordType="A"
            )
        except (ClientError, BotoCoreError) as err:
            raise CloudError(f"Route 53: cannot read {self._dns.record_name} ({err})",
                             retryable=retryable(err)) from None
        return {
            record["Failover"]: record
            for record in answer["ResourceRecordSets"]
            if record["Name"] == self._dns.record_name and "Failover" in record
        }

    def _healthy(self, check_id: str | None) -> bool:
        if not check_id:
            return True
        status = self._client.get_health_check_status(HealthCheckId=check_id)
        observations = status.get("HealthCheckObservations", [])
        return not observations or any(
            o.get("StatusReport", {}).get("Status", "").startswith("Success") for o in observations
        )

    def resolve(self) -> str:
        """The address a client would connect to now."""
        records = self.records()
        for role in ("PRIMARY", "SECONDARY"):
            record = records.get(role)
            if record and self._healthy(record.get("HealthCheckId")):
                return str(record["ResourceRecords"][0]["Value"])
        raise CloudError(f"Route 53: {self._dns.record_name} has no healthy failover record")

    def point_to(self, primary: tuple[str, str | None], secondary: tuple[str, str | None],
                 kind: str = "A") -> None:
        """UPSERT the PRIMARY and SECONDARY records as (address, health check id); `kind` is
        "CNAME" for RDS endpoints.

        Editing records is the lab's honest mechanism (moto's health checks are always
        healthy); production moves traffic by health-check or ARC routing-control state.
        """
        changes = []
        for failover, set_id, (address, check) in (
            ("PRIMARY", self._dns.primary_set_id, primary), ("SECONDARY", self._dns.secondary_set_id, secondary),
        ):
            record: dict[str, Any] = {"Name": self._dns.record_name, "Type": kind, "TTL": self._dns.ttl,
                                      "SetIdentifier": set_id, "Failover": failover,
                                      "ResourceRecords": [{"Value": address}]}
            if check:
                record["HealthCheckId"] = check
            changes.append({"Action": "UPSERT", "ResourceRecordSet": record})
        try:
            self._client.change_resource_record_sets(HostedZoneId=self._dns.zone_id,
                                                     ChangeBatch={"Changes": changes})
        except (ClientError, BotoCoreError) as err:
            raise CloudError(f"Route 53: cannot update {self._dns.record_name} ({err})",
                             retryable=retryable(err)) from None
