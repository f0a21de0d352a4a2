"""What every drill executor gets and returns: its context, and the executor's signature.

Its own module so that the runner (which picks an executor) and the executors (which take a
context) both import it, and neither imports the other.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from drills.report.build import DrillOutcome
from policies.sla import Tier
from recovery.inventory import Inventory


@dataclass
class DrillContext:
    """What an executor gets: the topology, the objectives, where to put evidence, the secrets."""

    inventory: Inventory
    inventory_path: Path
    tier: Tier
    tier_name: str
    scenario: str | None
    report_dir: Path
    secrets: list[str] = field(default_factory=list)
    detect: str = "declared"


Executor = Callable[[DrillContext], DrillOutcome]
