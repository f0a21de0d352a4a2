"""`crmdr inventory schema | check`."""

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from crmdr.commands.options import InventoryOption, JsonOption, inventory_path
from crmdr.output import emit_json, say

if TYPE_CHECKING:
    from recovery.inventory import Inventory
    from recovery.runbooks.live import PartCheck

app = typer.Typer(help="The DR topology contract.", no_args_is_help=True)


@app.command("schema")
def schema() -> None:
    """Print the inventory's JSON Schema."""
    from recovery.inventory import inventory_schema

    emit_json(inventory_schema())


@app.command("check")
def check(
    inventory: Path | None = InventoryOption,
    policy: Path | None = typer.Option(None, "--policy", help="SLA policy its sla_tier must name (default: shipped)."),
    live: bool = typer.Option(False, "--live", help="Also ask each part (hosts, PostgreSQL, bucket, lock, DNS)."),
    json_out: bool = JsonOption,
) -> None:
    """Validate an inventory file and its tier; with --live, exit 1 when a part does not answer."""
    from policies.sla import load_policy
    from recovery.inventory import inventory_tier, load_inventory

    path = inventory_path(inventory)
    model = load_inventory(path)
    inventory_tier(model, load_policy(policy))
    parts = _live(model, policy) if live else []
    failed = [p for p in parts if p.problem]
    if json_out:
        emit_json({"file": str(path), "valid": not failed, "stack": model.stack, "sla_tier": model.sla_tier,
                   "parts": [{"part": p.part, "answered": p.problem is None, "detail": p.problem or p.detail}
                             for p in parts]})
    else:
        say(f"{path}: valid inventory for stack '{model.stack}' (tier '{model.sla_tier}')")
        for p in parts:
            say(f"  {'[red]✘[/red]' if p.problem else '[green]✔[/green]'} {p.part}: {p.problem or p.detail}")
    if failed:
        raise typer.Exit(1)


def _live(model: "Inventory", policy: Path | None) -> "list[PartCheck]":
    from recovery.runbooks.live import live_checks

    return live_checks(model, policy)
