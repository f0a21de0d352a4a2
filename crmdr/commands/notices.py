"""Wiring only: the customer status service for the CLI, and its ports handed to the watch and the
runbooks (recovery never imports outage)."""

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from crmdr.commands.options import inventory_path

if TYPE_CHECKING:
    from outage.status.service import AutomaticNotices, CadenceReminder, StatusService
    from policies.sla import Tier
    from recovery.inventory import Inventory
    from recovery.runbooks.run import RunResult

log = logging.getLogger("crmdr")


def service(inventory: Path | None, policy: Path | None, tier: str | None, drill: bool,
            language: str | None = None) -> "StatusService":
    """The status log of the inventory, its cadence the tier's `status_notice_every`."""
    from outage.status.service import StatusService
    from policies.errors import ConfigError
    from policies.sla import load_policy
    from recovery.inventory import load_inventory

    loaded = load_inventory(inventory_path(inventory))
    if language not in (None, "en", "de"):
        raise ConfigError(f"--language {language}: expected en or de")
    cadence = load_policy(policy).tier(tier or loaded.sla_tier).status_notice_every
    return StatusService(loaded, cadence, drill=drill, language=language)


def automatic_notices(inventory: "Inventory", tier_name: str, tier: "Tier", *,
                      drill: bool = False) -> "AutomaticNotices":
    """Made before the outage, so its clients and templates are ready when it comes."""
    from outage.status.service import AutomaticNotices

    return AutomaticNotices(inventory, tier_name, tier, drill=drill)


def cadence_reminder(inventory: "Inventory", notices: "AutomaticNotices") -> "CadenceReminder | None":
    """Operators told (their SNS topic) before a customer update is due; None without a status page."""
    from outage.status.service import CadenceReminder
    from recovery.adapters.sns_notifier import SnsNotifier

    if notices.service is None:
        return None
    return CadenceReminder(notices.service, SnsNotifier(inventory))


def after_failover(notices: "AutomaticNotices", result: "RunResult") -> None:
    """A failover whose validation passed: "monitoring", saying since when service is back."""
    from outage.status.automatic import service_back_time

    back = service_back_time(result.phases) if result.status == "succeeded" else None
    if back is not None:
        notices.service_back(back)
