"""`crmdr plan`: the Pulumi program run offline under mocks, with the guardrail verdicts.

For reviewers and auditors without cloud credentials. Pulumi is imported only here, inside
the command, so the rest of the CLI never pays for it.
"""

from pathlib import Path
from typing import Any

import typer

from crmdr.commands.options import JsonOption
from crmdr.output import emit_json, say

DEFAULT_CONFIG = Path("Pulumi.example.yaml")


def plan(
    config: Path = typer.Option(DEFAULT_CONFIG, "--config", help="Stack config file (Pulumi.<stack>.yaml)."),
    overrides: list[str] = typer.Option(
        [], "--set", help="Override a crm-dr: key, e.g. --set strategy=pilot-light (repeatable)."
    ),
    json_out: bool = JsonOption,
) -> None:
    """Preview the stack offline: resources per region and component, guardrail verdicts.

    Exit 0 when every guardrail passes, 1 naming the first rule that failed, 2 when the
    stack config is invalid (naming the file, the line and the key).
    """
    from infra.preview import plan as run_plan
    from policies.errors import CheckFailed, ConfigError
    from policies.guardrails import violations

    values: dict[str, str] = {}
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"--set {item!r}: expected KEY=VALUE, e.g. --set strategy=pilot-light")
        values[key.removeprefix("crm-dr:")] = value
    result = run_plan(config, overrides=values)
    failed = violations(result.verdicts)
    if json_out:
        emit_json(_as_json(result))
    else:
        _print(result)
    if failed:
        first = failed[0]
        subject = f" on {first.resource} ({first.region})" if first.resource else ""
        more = f" (and {len(failed) - 1} more violation(s))" if len(failed) > 1 else ""
        raise CheckFailed(f"guardrail '{first.rule}' failed{subject}: {first.reason}{more}")


def _short(token: str) -> str:
    """`aws:rds/instance:Instance` -> `rds:Instance`."""
    module = token.split(":")[1].split("/", maxsplit=1)[0] if token.count(":") >= 2 else token
    return f"{module}:{token.rsplit(':', 1)[-1]}"


def _regions(result: Any) -> dict[str, dict[str, Any]]:
    """region -> {role, components: {name: {type, resources: [...]}}} in declaration order."""
    settings = result.config.deployment.settings
    roles = {settings.primary_region: "primary", settings.dr_region: "dr"}
    regions: dict[str, dict[str, Any]] = {region: {"role": role, "components": {}} for region, role in roles.items()}
    for resource in sorted(result.preview.resources, key=lambda r: (r.type, r.name)):
        region = resource.region or "default provider"
        entry = regions.setdefault(region, {"role": roles.get(region, "other"), "components": {}})
        component = entry["components"].setdefault(
            resource.component or "(stack)",
            {"type": (resource.component_type or "").rsplit(":", 1)[-1], "resources": []},
        )
        component["resources"].append({"type": resource.type, "name": resource.name})
    for entry in regions.values():
        entry["components"] = dict(sorted(entry["components"].items()))
    return regions


def _as_json(result: Any) -> dict[str, Any]:
    deployment = result.config.deployment
    return {
        "config": str(result.config.path),
        "stack": result.config.stack,
        "strategy": deployment.settings.strategy,
        "tier": deployment.tier_name,
        "notes": result.config.notes,
        "regions": _regions(result),
        "guardrails": {
            "passed": all(verdict.passed for verdict in result.verdicts),
            "verdicts": [
                {
                    "rule": verdict.rule,
                    "resource": verdict.resource,
                    "type": verdict.type,
                    "region": verdict.region,
                    "passed": verdict.passed,
                    "reason": verdict.reason,
                }
                for verdict in result.verdicts
            ],
        },
        "outputs": result.preview.outputs,
    }


def _print(result: Any) -> None:
    from policies.durations import format_duration

    deployment = result.config.deployment
    tier = deployment.tier
    say(
        f"{result.config.path}: stack '{result.config.stack}', strategy {deployment.settings.strategy}, "
        f"tier {deployment.tier_name} (RTO {format_duration(tier.rto)}, RPO {format_duration(tier.rpo)})"
    )
    for note in result.config.notes:
        say(f"  note: {note}")
    for region, entry in _regions(result).items():
        count = sum(len(component["resources"]) for component in entry["components"].values())
        say(f"\n{region} ({entry['role']}): {count} resources")
        for name, component in entry["components"].items():
            say(f"  {name} ({component['type']}): {len(component['resources'])}")
            for resource in component["resources"]:
                say(f"    {_short(resource['type']):<42} {resource['name']}")
    _print_verdicts(result.verdicts)


def _print_verdicts(verdicts: list[Any]) -> None:
    rules: dict[str, list[Any]] = {}
    for verdict in verdicts:
        rules.setdefault(verdict.rule, []).append(verdict)
    failed = [verdict for verdict in verdicts if not verdict.passed]
    say(f"\nguardrails: {len(rules)} rules, {len(verdicts)} checks, {len(failed)} violation(s)")
    for rule, answers in rules.items():
        bad = [answer for answer in answers if not answer.passed]
        if not bad:
            say(f"  [green]✔[/green] {rule} ({len(answers)} checked)")
        for answer in bad:
            subject = f"{answer.resource} ({answer.region}): " if answer.resource else ""
            say(f"  [red]✘[/red] {rule}: {subject}{answer.reason}")
