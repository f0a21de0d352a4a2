"""Options shared by many commands, and where the inventory comes from by default."""

import os
from pathlib import Path

import typer

DEFAULT_LAB_DIR = Path(".crmdr/lab")
DEFAULT_REPORT_DIR = Path(".crmdr/reports")

InventoryOption = typer.Option(
    None,
    "--inventory",
    help="Inventory file (default: $CRMDR_INVENTORY, else the running lab's).",
)
JsonOption = typer.Option(False, "--json", help="Machine-readable output.")
LabDirOption = typer.Option(DEFAULT_LAB_DIR, "--dir", help="Lab directory.")
PolicyOption = typer.Option(None, "--policy", help="SLA policy file (default: the shipped tiers).")


def inventory_path(given: Path | None) -> Path:
    """--inventory, else $CRMDR_INVENTORY, else the lab's inventory.json."""
    if given is not None:
        return given
    env = os.environ.get("CRMDR_INVENTORY")
    if env:
        return Path(env)
    return DEFAULT_LAB_DIR / "inventory.json"
