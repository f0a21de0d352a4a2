"""`crmdr inventory schema | check`."""

from pathlib import Path

import typer

from crmdr.commands.options import InventoryOption, JsonOption, inventory_path
from crmdr.output import emit_json, say

app = typer.Typer(help="The DR topology contract.", no_args_is_help=True)


@app.command("schema")
def schema() -> None:
    """Print the inventory's JSON Schema."""
    from recovery.inventory import inventory_schema

    emit_json(inventory_schema())


@app.command("check")
def check(inventory: Path | None = InventoryOption, json_out: bool = JsonOption) -> None:
    """Validate an inventory file."""
    from recovery.inventory import load_inventory

    path = inventory_path(inventory)
    model = load_inventory(path)
    if json_out:
        emit_json({"file": str(path), "valid": True, "stack": model.stack})
    else:
        say(f"{path}: valid inventory for stack '{model.stack}'")
