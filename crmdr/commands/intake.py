"""`crmdr intake import | replay | list | export | purge | form`: the downtime intake."""

import os
from pathlib import Path
from typing import Any

import typer

from crmdr.commands.options import InventoryOption, JsonOption, inventory_path
from crmdr.output import emit_json, json_errors, say

app = typer.Typer(help="Downtime intake: customer requests taken while the CRM is down, entered once afterwards.",
                  no_args_is_help=True)
DEFAULT_DIR = Path(".crmdr/intake")
STATES = ("stored", "review", "entered", "acknowledged", "purged")


def _service(inventory: Path | None) -> tuple[Any, Any]:
    from outage.intake.service import IntakeService, store_for
    from recovery.inventory import load_inventory

    loaded = load_inventory(inventory_path(inventory))
    return loaded, IntakeService(store_for(loaded))


@app.command("import")
def import_csv(
    file: Path = typer.Argument(..., help="CSV of typed-in paper forms (header: the schema's field names)."),
    inventory: Path | None = InventoryOption,
    json_out: bool = JsonOption,
) -> None:
    """Store typed-in paper forms: every row validated first (exit 2 naming line and column, nothing stored)."""
    with json_errors(json_out):
        _, service = _service(inventory)
        outcome = service.import_paper(file)
    if json_out:
        emit_json({"file": str(file), "stored": outcome.stored, "already_stored": outcome.already_stored})
        return
    say(f"{file}: {len(outcome.stored)} request(s) stored, {len(outcome.already_stored)} already stored")
    for entry in outcome.stored + outcome.already_stored:
        say(f"  line {entry['line']}: {entry['reference']}")


@app.command("replay")
def replay(
    inventory: Path | None = InventoryOption,
    crm: str | None = typer.Option(None, "--crm", help="HOST[:PORT] of the CRM database (default: the writable node)."),
    outbox: Path = typer.Option(DEFAULT_DIR / "outbox", "--outbox",
                                help="Where acknowledgements are drafted when no customer notifier is set up."),
    records: Path = typer.Option(DEFAULT_DIR / "replays", "--records", help="Where each replay's record is stored."),
    json_out: bool = JsonOption,
) -> None:
    """Enter every stored request into the CRM exactly once (a case and an activity each); safe to re-run."""
    from outage.adapters.ack_drafts import DraftOutbox
    from outage.intake.service import crm_for, save_outcome

    with json_errors(json_out):
        loaded, service = _service(inventory)
        with crm_for(loaded, crm) as target:
            outcome = service.replay(target, DraftOutbox(outbox))
        path = save_outcome(outcome, records)
    if json_out:
        emit_json({"record": str(path), "entered": outcome.entered, "already_entered": outcome.already_entered,
                   "review": outcome.review, "acknowledged": outcome.acknowledged})
        return
    say(f"replay: {len(outcome.entered)} entered, {len(outcome.already_entered)} already entered (skipped), "
        f"{len(outcome.review)} need review; record {path}")
    for entry in outcome.entered:
        say(f"  entered   {entry['reference']} -> case {entry['case_id']} (matched by {entry['matched_by']})")
    for entry in outcome.already_entered:
        say(f"  skipped   {entry['reference']} (already case {entry['case_id']})")
    for entry in outcome.review:
        say(f"  review    {entry['reference']}: {entry['reason']}")
    if outcome.acknowledged:
        say(f"acknowledgements: {len(outcome.acknowledged)} ({outcome.acknowledged[0]['via']} in {outbox})")


@app.command("list")
def list_requests(
    inventory: Path | None = InventoryOption,
    state: str | None = typer.Option(None, "--state", help=f"Only this state ({', '.join(STATES)})."),
    json_out: bool = JsonOption,
) -> None:
    """Stored requests and their state (no personal data: reference, type, priority, case)."""
    with json_errors(json_out):
        _, service = _service(inventory)
        found = [r for r in service.records() if state is None or r.state == state]
    if json_out:
        by_state = {name: sum(1 for r in found if r.state == name) for name in STATES}
        emit_json({"requests": [r.model_dump(mode="json") for r in found], "count": len(found), "by_state": by_state})
        return
    say(f"{len(found)} request(s)")
    for r in found:
        detail = f"case {r.case_id}" if r.case_id is not None else (r.review_reason or "")
        say(f"  {r.reference}  {r.submitted_at.isoformat()}  {r.channel:5}  {r.request_type:8}  "
            f"{r.priority:6}  {r.state:12}  {detail}")


@app.command("export")
def export(
    file: Path = typer.Argument(..., help="CSV to write (mode 0600: it holds personal data)."),
    inventory: Path | None = InventoryOption,
    state: str = typer.Option("review", "--state", help="Which requests (default: the review list)."),
    json_out: bool = JsonOption,
) -> None:
    """Requests with their content as CSV for people (formula injection neutralised)."""
    from outage.intake.csvio import export_csv

    with json_errors(json_out):
        _, service = _service(inventory)
        pairs = service.store.requests(frozenset({state}))
    columns = ["reference", "state", "submitted_at", "channel", "language", *service.schema.field_names()]
    rows = [{"reference": rec.reference, "state": rec.state, "submitted_at": rec.submitted_at.isoformat(),
             "channel": rec.channel, "language": rec.language, "review_reason": rec.review_reason,
             **req.fields.model_dump()} for rec, req in pairs]
    with os.fdopen(os.open(file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w", newline="") as out:
        out.write(export_csv([*columns, "review_reason"], rows))
    if json_out:
        emit_json({"file": str(file), "count": len(rows)})
    else:
        say(f"{file}: {len(rows)} request(s) in state {state}")


@app.command("purge")
def purge(inventory: Path | None = InventoryOption, json_out: bool = JsonOption) -> None:
    """Remove personal data of requests entered longer ago than intake.purge_after."""
    with json_errors(json_out):
        loaded, service = _service(inventory)
        purged = service.purge(loaded.intake)
    if json_out:
        emit_json({"purged": purged, "count": len(purged)})
    else:
        say(f"purged personal data of {len(purged)} request(s)" + (f": {', '.join(purged)}" if purged else ""))


@app.command("form")
def form(
    size: str = typer.Option("a4", "--size", help="a4 or letter."),
    lang: str = typer.Option("en", "--lang", help="en or de."),
    out: Path = typer.Option(..., "--out", help="HTML file to write (print it, or chromium --print-to-pdf)."),
    json_out: bool = JsonOption,
) -> None:
    """The printable downtime form, from the same schema as the web form."""
    from outage.adapters.intake_pages import print_page
    from policies.errors import ConfigError
    from policies.intake import load_intake_schema

    with json_errors(json_out):
        if size not in ("a4", "letter") or lang not in ("en", "de"):
            raise ConfigError(f"--size {size} --lang {lang}: expected --size a4|letter and --lang en|de")
        out.write_text(print_page(load_intake_schema(), "de" if lang == "de" else "en",
                                  "letter" if size == "letter" else "a4"))
    if json_out:
        emit_json({"file": str(out), "size": size, "lang": lang})
    else:
        say(f"{out}: printable downtime form ({size}, {lang})")
