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
    """Validate an SLA policy file (or a credit policy: one with `plans`): types, units and consistency."""
    from policies.documents import read_document
    from policies.durations import format_duration
    from policies.sla import check_inventory_tier, load_policy

    if "plans" in read_document(file, what="policy")[0]:
        _check_credits(file, json_out)
        return
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


def _check_credits(file: Path, json_out: bool) -> None:
    from policies.credits import load_credit_policy

    credits = load_credit_policy(file)
    if json_out:
        emit_json({"file": str(file), "valid": True, "kind": "credits", **credits.model_dump(mode="json")})
        return
    say(f"{file}: valid credit policy, {len(credits.plans)} plan(s), currency {credits.currency}")
    for name, plan in credits.plans.items():
        steps = ", ".join(f"<{s.below} % -> {s.credit} %" for s in plan.credits) or "no credits"
        say(f"  {name}: commitment {plan.commitment} %, {steps}")
