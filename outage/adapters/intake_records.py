"""The downtime intake's record of an outage (outage/intake, DynamoDB in the DR region), for the review.

Reads the store's plain records only (times and states; the encrypted personal fields are never
decrypted here): requests submitted between the incident's start and its resolution, and when
the last of them was entered into the CRM.
"""

from datetime import datetime
from typing import Any

from outage.review.build import IncidentFacts, IntakeFacts
from recovery.inventory import Inventory


class IntakeRecords:
    """IntakeSource over the intake's DynamoDB table (`inventory.intake`)."""

    def __init__(self, inventory: Inventory, now: datetime) -> None:
        self._inventory = inventory
        self._now = now

    def facts(self, incident: IncidentFacts) -> IntakeFacts | None:
        from outage.adapters.dynamo_intake import DynamoIntakeStore

        settings: Any = self._inventory.intake
        if settings is None:
            return None
        table = getattr(settings, "table", "crmdr-intake")  # the intake's inventory fields (issue 14)
        region = getattr(settings, "region", None) or self._inventory.regions.dr
        key = getattr(settings, "kms_key_id", None) or ""
        store = DynamoIntakeStore.connect(self._inventory.aws, region, table, key)
        end = incident.resolved_at or self._now
        taken = sorted((r for r in store.records() if incident.started_at <= r.submitted_at <= end),
                       key=lambda r: r.submitted_at)
        if not taken:
            return IntakeFacts(None, None, 0, None, 0, f"intake table {table}")
        entered = [r.entered_at for r in taken if r.entered_at is not None]
        return IntakeFacts(first_taken_at=taken[0].submitted_at, last_taken_at=taken[-1].submitted_at,
                           requests_taken=len(taken), replayed_at=max(entered) if entered else None,
                           replayed=len(entered), source=f"intake table {table}")
