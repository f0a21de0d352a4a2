"""What crm-dr says by itself: the first notice when the watch declares an outage, and "monitoring"
when a failover's validation passed. Resolving stays a person's decision. Pure."""

from datetime import datetime

from outage.status.messages import DataLoss
from outage.status.model import Draft
from policies.sla import Tier
from recovery.inventory import Inventory

TITLES = {"en": "CRM unavailable", "de": "CRM nicht erreichbar"}


def automatic_limitation(inventory: Inventory, tier_name: str, tier: Tier) -> str | None:
    """Why nothing is published automatically, or None."""
    if inventory.status is None or not inventory.status.bucket:
        return "the inventory declares no status page (status.url and status.bucket)"
    if not tier.automatic_status_notice:
        return f"tier '{tier_name}' sets automatic_status_notice: false: a person posts the first update"
    return None


def first_notice(first_failure: datetime) -> Draft:
    """"investigating", its start being the first failed probe (measured), no cause, no fix time."""
    return Draft(state="investigating", impact="major", author="crmdr watch", source="watch",
                 started_at=first_failure)


def service_back(back_at: datetime, data_loss: DataLoss | None = None) -> Draft:
    """"monitoring", saying when service came back (the failover's validation passed)."""
    return Draft(state="monitoring", author="crmdr failover", source="failover", service_back_at=back_at,
                 data_loss=data_loss)


def service_back_time(phases: dict[str, dict[str, str]]) -> datetime | None:
    """When the failover's validation passed (the end of its `validate` phase), or None when it did not run."""
    end = phases.get("validate", {}).get("end")
    if not end:
        return None
    try:
        return datetime.fromisoformat(end)
    except ValueError:
        return None


FIRST_NOTICE_WITHIN = 10.0  # seconds from the declaration to the first public update (issue 13)
