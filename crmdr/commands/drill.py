"""`crmdr drill run | due | schedule`: game days judged against the SLA, and their cadence."""

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from crmdr.commands.options import DEFAULT_REPORT_DIR, InventoryOption, JsonOption, PolicyOption, inventory_path
from crmdr.output import emit_json, say

if TYPE_CHECKING:
    from policies.sla import Tier

app = typer.Typer(help="Drills: run, judge against the SLA tier, report; due dates and schedules.",
                  no_args_is_help=True)

OutOption = typer.Option(DEFAULT_REPORT_DIR, "--out", help="Report directory (signed, hash-chained).")
TierOption = typer.Option(None, "--tier", help="SLA tier (default: the inventory's sla_tier).")


@app.command("run")
def run(
    drill_type: str = typer.Option(..., "--type", help="backup-verify | restore-test | failover"),
    tier: str | None = TierOption,
    policy: Path | None = PolicyOption,
    out: Path = OutOption,
    inventory: Path | None = InventoryOption,
    scenario: str | None = typer.Option(None, "--scenario", help="failover: crash | host-lost | network-cut"),
    detect: str = typer.Option("declared", "--detect", help="failover: declared (the drill starts the failover) "
                               "| watch (crmdr watch must detect the disruption first)"),
    signing_key: Path | None = typer.Option(None, "--signing-key", help="Ed25519 PEM key ($CRMDR_SIGNING_KEY)."),
    production: bool = typer.Option(False, "--i-understand-production",
                                    help="Allow a disruptive drill on production (the policy must allow it too)."),
    operator: str | None = typer.Option(None, "--operator", help="Who runs the drill (default: $CRMDR_OPERATOR)."),
    approver: list[str] = typer.Option([], "--approved-by", help="An approver (repeatable)."),
    textfile: Path | None = typer.Option(None, "--textfile", help="Prometheus textfile to update."),
    no_bucket: bool = typer.Option(False, "--no-bucket", help="Do not copy the report to the DR bucket."),
    if_due: bool = typer.Option(False, "--if-due", help="Run only when the tier's cadence says it is due "
                                "(what a schedule's check runs); otherwise say when and exit 0."),
    json_out: bool = JsonOption,
) -> None:
    """Run a drill; exit 0 when every objective passed, 1 when one failed."""
    from drills.report.render import summary
    from drills.runner import DrillRequest, run_drill
    from policies.errors import ConfigError
    from policies.sla import DRILL_TYPES

    if drill_type not in DRILL_TYPES:
        raise ConfigError(f"--type: unknown drill type '{drill_type}' (expected {', '.join(DRILL_TYPES)})")
    if if_due:
        reason = _not_due_yet(drill_type, tier, policy, out, inventory)
        if reason:
            emit_json({"started": False, "reason": reason}) if json_out else say(reason)
            return
    request = DrillRequest(
        drill_type=drill_type, inventory_path=inventory_path(inventory), out_dir=out, tier=tier,
        policy_path=policy, scenario=scenario, signing_key=signing_key, i_understand_production=production,
        detect=detect, operator=operator, approvals=tuple(approver), textfile=textfile, store_in_bucket=not no_bucket,
    )
    report, report_dir = run_drill(request)
    if json_out:
        emit_json({**summary(report), "report_dir": str(report_dir), "html": str(report_dir / "report.html")})
    else:
        verdict = "[green]PASSED[/green]" if report.passed else "[red]FAILED[/red]"
        say(f"{report.drill.type} drill {verdict} (tier {report.drill.tier}): {report.report_id}")
        for objective in report.objectives:
            say(f"  {'✔' if objective.passed else '✘'} {objective.detail}")
        say(f"report: {report_dir / 'report.html'}")
    if not report.passed:
        raise typer.Exit(1)


@app.command("due")
def due(
    tier: str | None = TierOption,
    policy: Path | None = PolicyOption,
    out: Path = OutOption,
    inventory: Path | None = InventoryOption,
    json_out: bool = JsonOption,
) -> None:
    """Drills due or overdue per the tier's cadences (exit 1 when one is overdue)."""
    from datetime import UTC, datetime

    from drills.report.store import past_reports
    from drills.schedule import due_drills

    tier_name, chosen = _chosen_tier(tier, policy, inventory)
    items = due_drills(chosen, past_reports(out), datetime.now(UTC))
    if json_out:
        emit_json({"tier": tier_name, "drills": [
            {"type": i.drill_type, "state": i.state, "reason": i.reason, "due_at": i.due_at,
             "last_passed": i.last_passed, "last_run": i.last_run} for i in items]})
    else:
        for i in items:
            colour = {"ok": "green", "due": "yellow", "overdue": "red"}[i.state]
            say(f"[{colour}]{i.state:8}[/{colour}] {i.drill_type:14} {i.reason}")
    if any(i.state == "overdue" for i in items):
        raise typer.Exit(1)


def _not_due_yet(drill_type: str, tier: str | None, policy: Path | None, out: Path,
                 inventory: Path | None) -> str | None:
    from datetime import UTC, datetime

    from drills.report.store import past_reports
    from drills.schedule import not_due_yet

    _name, chosen = _chosen_tier(tier, policy, inventory)
    return not_due_yet(chosen, past_reports(out), drill_type, datetime.now(UTC))  # type: ignore[arg-type]


def _chosen_tier(tier: str | None, policy: Path | None, inventory: Path | None) -> "tuple[str, Tier]":
    """--tier, else the inventory's sla_tier (an unknown one named with its file and field)."""
    from policies.sla import load_policy
    from recovery.inventory import inventory_tier, load_inventory

    loaded = load_policy(policy)
    if tier:
        return tier, loaded.tier(tier)
    found = load_inventory(inventory_path(inventory))
    return found.sla_tier, inventory_tier(found, loaded)


@app.command("schedule")
def schedule(
    tier: str | None = TierOption,
    policy: Path | None = PolicyOption,
    out: Path = OutOption,
    inventory: Path | None = InventoryOption,
    kind: str = typer.Option("cron", "--format", help="cron (a cron.d file) | systemd (timer + service units)"),
    user: str | None = typer.Option(None, "--user", help="Who runs the drills (cron.d's user field, systemd's "
                                    "User=; default for cron: you)."),
    install: bool = typer.Option(False, "--install", help="Write the schedule to --dest."),
    dest: Path | None = typer.Option(None, "--dest", help="cron: a cron.d file; systemd: a unit directory."),
    json_out: bool = JsonOption,
) -> None:
    """Print (or install) a cron.d file or systemd timers for the tier's drill cadences."""
    import getpass

    from drills.schedule import cron_lines, systemd_units
    from policies.errors import ConfigError

    if kind not in ("cron", "systemd"):
        raise ConfigError(f"--format: expected cron or systemd, got '{kind}'")
    tier_name, chosen = _chosen_tier(tier, policy, inventory)
    args = {"crmdr": _crmdr_words(), "inventory": str(inventory_path(inventory).absolute()),
            "out": str(out.absolute()), "policy": str(policy.absolute()) if policy else None}
    try:
        if kind == "cron":
            lines = cron_lines(chosen, tier_name, user=user or getpass.getuser(), **args)  # type: ignore[arg-type]
            target = dest or Path("/etc/cron.d/crmdr-drills")
            files = {target: "\n".join(["# crm-dr drills (generated by crmdr drill schedule)", *lines]) + "\n"}
        else:
            units = systemd_units(chosen, tier_name, user=user, **args)  # type: ignore[arg-type]
            folder = dest or Path("/etc/systemd/system")
            files = {folder / name: text for name, text in units.items()}
    except ValueError as error:
        raise ConfigError(f"tier '{tier_name}': {error}") from None
    for path, text in files.items():
        if install:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    if json_out:
        emit_json({"tier": tier_name, "format": kind, "installed": install,
                   "files": [{"path": str(path), "text": text} for path, text in files.items()]})
        return
    for path, text in files.items():
        if install:
            say(f"installed {path}")
        else:
            say(f"# {path}\n{text}" if kind == "systemd" else text.rstrip("\n"))


def _crmdr_words() -> list[str]:
    """This installation's `crmdr`: the console script beside the interpreter, else `python -m crmdr`."""
    import shutil
    import sys

    beside = Path(sys.executable).parent / "crmdr"
    found = str(beside) if beside.is_file() else shutil.which("crmdr")
    return [str(Path(found).absolute())] if found else [sys.executable, "-m", "crmdr"]
