"""`crmdr failover | switchover | failback`: the recovery runbooks (recovery/runbooks/)."""

import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from crmdr.commands.options import InventoryOption, JsonOption, PolicyOption, inventory_path
from crmdr.output import emit_json, say

if TYPE_CHECKING:
    from recovery.inventory import Inventory
    from recovery.runbooks.run import Options, RunResult

DryRun = typer.Option(False, "--dry-run", help="Print the plan with each check's current truth; change nothing.")
Resume = typer.Option(None, "--resume", metavar="RUN", help="Continue a crashed, failed or interrupted run.")
Discard = typer.Option(None, "--discard", metavar="RUN",
                       help="Give up an unfinished run (journalled in it; its steps stay as they are) and start anew.")
Yes = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation.")
JournalDir = typer.Option(None, "--journal-dir", help="Local journal directory (default: $CRMDR_JOURNAL_DIR "
                          "or .crmdr/runs); always mirrored to the DR bucket.")
Drill = typer.Option(False, "--drill", help="Mark notices and the journal as a drill.")
Target = typer.Option(None, "--to", help="Node to promote (default: the inventory's standby).")


def _confirm(yes: bool, dry_run: bool, json_out: bool) -> Any:
    """None when no question is needed; refuses (exit 3) when a question cannot be asked."""
    if yes or dry_run:
        return None
    if not sys.stdin.isatty():
        from policies.errors import Refused

        raise Refused("no terminal to confirm on: pass --yes to run unattended (or --dry-run to plan)")

    def ask(plan: list[str]) -> bool:
        for line in plan:
            say(line)
        return typer.confirm("proceed?", default=False, err=json_out)

    return ask


def invocation(name: str, inventory: Path | None, journal_dir: Path | None, policy: Path | None,
               yes: bool) -> str:
    """The command line that reaches the same run again (in resume and refusal messages)."""
    words = ["crmdr", *name.split()]
    for flag, value in (("--inventory", inventory), ("--journal-dir", journal_dir), ("--policy", policy)):
        if value is not None:
            words += [flag, str(value)]
    return shlex.join(words + (["--yes"] if yes else []))


def options_from(command: str = "", inventory: Path | None = None, **given: Any) -> "Options":
    from recovery.runbooks.journal.files import default_journal_dir
    from recovery.runbooks.run import Options

    json_out = given.pop("json_out")
    yes = given.pop("yes")
    confirm = _confirm(yes, given["dry_run"], json_out)
    journal_dir = given.pop("journal_dir")
    line = invocation(command, inventory, journal_dir, given.get("policy"), yes) if command else ""
    report = (lambda line: None) if json_out else (lambda line: say(f"[dim]…[/dim] {line}"))
    return Options(confirm=confirm, journal_dir=journal_dir or default_journal_dir(), report=report, command=line,
                   **given)


def show(result: "RunResult", json_out: bool, extra: dict[str, Any] | None = None) -> None:
    """The run's outcome: the plan when it did not succeed, the message and where its journal is."""
    if json_out:
        emit_json({**result.to_dict(), **(extra or {})})
        return
    if result.status != "succeeded":
        for line in result.plan:
            say(line)
    say(result.message)
    if result.journal:
        say(f"journal: {result.journal} (run {result.run_id})")


def failover(
    inventory: Path | None = InventoryOption,
    dry_run: bool = DryRun,
    resume: str | None = Resume,
    discard: str | None = Discard,
    accept_data_loss: bool = typer.Option(False, "--accept-data-loss",
                                          help="Promote even when the standby lags beyond the tier's limit."),
    force_unfenced: bool = typer.Option(False, "--force-unfenced",
                                        help="Continue when the old primary cannot be fenced (split-brain risk)."),
    yes: bool = Yes,
    target: str | None = Target,
    journal_dir: Path | None = JournalDir,
    policy: Path | None = PolicyOption,
    drill: bool = Drill,
    json_out: bool = JsonOption,
) -> None:
    """Unplanned failover: fence the old primary, promote the standby, move the DNS name, validate."""
    from crmdr.commands.notices import reminding
    from policies.sla import load_policy
    from recovery.inventory import inventory_tier, load_inventory
    from recovery.runbooks.failover import run_failover

    options = options_from("failover", inventory, dry_run=dry_run, resume=resume, discard=discard,
                           accept_data_loss=accept_data_loss, force_unfenced=force_unfenced, yes=yes, target=target,
                           journal_dir=journal_dir, policy=policy, drill=drill, json_out=json_out)
    loaded = load_inventory(inventory_path(inventory))
    with reminding(loaded, inventory_tier(loaded, load_policy(policy)), drill=drill):
        result = run_failover(loaded, options)
    show(result, json_out, _customers_told(loaded, result, policy, drill) if result.status == "succeeded" else None)


def _customers_told(loaded: "Inventory", result: "RunResult", policy: Path | None, drill: bool) -> dict[str, Any]:
    """Validation passed: the open incident gets "monitoring" (a drill: its drill-marked location)."""
    from crmdr.commands.notices import after_failover, automatic_notices
    from policies.sla import load_policy
    from recovery.inventory import inventory_tier

    customers = automatic_notices(loaded, loaded.sla_tier, inventory_tier(loaded, load_policy(policy)), drill=drill)
    after_failover(customers, result)
    customers.wait()
    return {"customers": customers.record()}


def _planned(runbook: str, to_help: str, summary: str) -> Any:
    """Switchover and failback take the same options; only the runbook and the help differ."""

    def command(
        inventory: Path | None = InventoryOption,
        dry_run: bool = DryRun,
        resume: str | None = Resume,
        discard: str | None = Discard,
        yes: bool = Yes,
        target: str | None = typer.Option(None, "--to", help=to_help),
        journal_dir: Path | None = JournalDir,
        policy: Path | None = PolicyOption,
        drill: bool = Drill,
        json_out: bool = JsonOption,
    ) -> None:
        from crmdr.commands.notices import reminding
        from policies.sla import load_policy
        from recovery.inventory import inventory_tier, load_inventory
        from recovery.runbooks import switchover as runbooks

        run = getattr(runbooks, f"run_{runbook}")
        options = options_from(runbook, inventory, dry_run=dry_run, resume=resume, discard=discard, yes=yes,
                               target=target, journal_dir=journal_dir, policy=policy, drill=drill, json_out=json_out)
        loaded = load_inventory(inventory_path(inventory))
        with reminding(loaded, inventory_tier(loaded, load_policy(policy)), drill=drill):
            show(run(loaded, options), json_out)

    command.__doc__ = summary
    return command


switchover = _planned(
    "switchover", "Node to promote (default: the current standby).",
    "Planned role swap with zero data loss; the old primary becomes a standby of the new one.")
failback = _planned(
    "failback", "Node to return to (default: the inventory's primary).",
    "Rebuild the old primary from the current one (pg_rewind, else pg_basebackup), then switch back.")


def register(app: typer.Typer) -> None:
    """Add the runbook commands at the top level (`crmdr failover`, ...)."""
    app.command("failover")(failover)
    app.command("switchover")(switchover)
    app.command("failback")(failback)
