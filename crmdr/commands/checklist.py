"""`crmdr checklist show | confirm`: the people's outage to-do list, confirmations journalled."""

import getpass
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from crmdr.commands.options import InventoryOption, JsonOption
from crmdr.output import emit_json, say

if TYPE_CHECKING:
    from outage.status.model import Incident
    from outage.status.service import StatusService

app = typer.Typer(help="The people's outage to-do list; confirmations journalled with who and when.",
                  no_args_is_help=True)

FileOption = typer.Option(None, "--file", help="Checklist YAML (default: the shipped policies/outage-checklist.yaml).")
IncidentOption = typer.Option(None, "--incident", help="Incident id (default: the one open incident).")
DrillOption = typer.Option(False, "--drill", help="The drill's incident log and a drill-marked journal.")
JournalOption = typer.Option(None, "--journal-dir",
                             help="Journal directory (default: $CRMDR_JOURNAL_DIR or .crmdr/runs).")


def _incident(inventory: Path | None, incident: str | None, drill: bool) -> "tuple[StatusService, Incident | None]":
    from crmdr.commands.notices import service

    svc = service(inventory, None, None, drill)
    return svc, svc.find(incident)


@app.command("show")
def show(
    incident: str | None = IncidentOption, file: Path | None = FileOption, drill: bool = DrillOption,
    language: str | None = typer.Option(None, "--language", help="en or de (default: the inventory's)."),
    journal_dir: Path | None = JournalOption, inventory: Path | None = InventoryOption, json_out: bool = JsonOption,
) -> None:
    """Print the list; with an incident, who confirmed each step, when, and whether it was late."""
    from outage.checklist.service import confirmations
    from policies.checklist import load_checklist, progress
    from recovery.runbooks.journal.files import default_journal_dir

    checklist = load_checklist(file)
    svc, found = _incident(inventory, incident, drill)
    lang = language or svc.language
    done = confirmations(svc.inventory, found.id, journal_dir or default_journal_dir()) if found else []
    started = found.started_at if found else None
    steps = progress(checklist, done, started, svc.clock.now())
    if json_out:
        emit_json({"incident": found.id if found else None, "started_at": started.isoformat() if started else None,
                   "items": [s.to_dict(lang, started) for s in steps]})
        return
    say(f"Outage checklist{f' for incident {found.id}' if found else ''}:")
    for number, step in enumerate(steps, start=1):
        mark = "[x]" if step.confirmed else "[ ]"
        when = f" (by {step.confirmed.by} at {step.confirmed.at.isoformat()})" if step.confirmed else ""
        target = f" within {step.item.within}" if step.item.within else ""
        say(f"{number}. {mark} {step.item.id}: {step.item.text(lang)}{target}{when}{' LATE' if step.late else ''}")


@app.command("confirm")
def confirm(
    item: str = typer.Argument(..., help="The step's id (see `crmdr checklist show`)."),
    by: str | None = typer.Option(None, "--by", help="Who did it (default: the OS user)."),
    incident: str | None = IncidentOption, file: Path | None = FileOption, drill: bool = DrillOption,
    journal_dir: Path | None = JournalOption, inventory: Path | None = InventoryOption, json_out: bool = JsonOption,
) -> None:
    """Journal that a person did a step, now."""
    from outage.checklist.service import confirm as journal_confirmation
    from outage.checklist.service import run_id
    from policies.checklist import load_checklist
    from policies.errors import ConfigError
    from recovery.runbooks.journal.files import default_journal_dir

    checklist = load_checklist(file)
    checklist.item(item)
    svc, found = _incident(inventory, incident, drill)
    if found is None:
        raise ConfigError("no open incident to confirm a step for; expected --incident ID")
    who = by or getpass.getuser()
    done = journal_confirmation(svc.inventory, checklist, found.id, item, who, journal_dir or default_journal_dir(),
                                drill=drill)
    if json_out:
        emit_json({"incident": found.id, "item": item, "by": who, "at": done.at.isoformat(),
                   "journal": run_id(found.id)})
    else:
        say(f"{item}: confirmed by {who} at {done.at.isoformat()} (journal {run_id(found.id)})")
