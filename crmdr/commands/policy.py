"""`crmdr policy check FILE`."""

from pathlib import Path

import typer

from crmdr.commands.options import JsonOption
from crmdr.output import emit_json, say

app = typer.Typer(help="SLA policies: tiers, objectives, drill cadences.", no_args_is_help=True)


@app.command("check")
def check(
    file: Path = typer.Argument(..., help="Policy file (YAML or JSON)."),
    inventory: Path | None = typer.Option(None, "--inventory", help="Also check the tier this inventory names."),
    json_out: bool = JsonOption,
) -> None:
    """Validate an SLA policy file: types, units and consistency."""
    from policies.durations import format_duration
    from policies.sla import check_inventory_tier, load_policy

    policy = load_policy(file)
    if inventory is not None:
        check_inventory_tier(policy, inventory)
    if json_out:
        emit_json({"file": str(file), "valid": True, **policy.model_dump(mode="json")})
        return
    say(f"{file}: valid SLA policy, {len(policy.tiers)} tier(s)")
    for name, tier in policy.tiers.items():
        say(
            f"  {name}: RTO {format_duration(tier.rto)}, RPO {format_duration(tier.rpo)}, "
            f"retention {format_duration(tier.retention)}"
        )
