"""`crmdr incident review ID | actions | history`: the review that removes the cause, and what is still open."""

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from crmdr.commands.options import DEFAULT_REPORT_DIR, InventoryOption, JsonOption, inventory_path
from crmdr.output import emit_json, json_errors, say

if TYPE_CHECKING:
    from outage.credits.customers import Customer
    from policies.credits import CreditPolicy
    from recovery.inventory import Inventory

app = typer.Typer(help="Incidents: the signed review, open corrective actions, the history page.",
                  no_args_is_help=True)

DEFAULT_REVIEWS = Path(".crmdr/reviews")
NotesOption = typer.Option(Path(".crmdr/incidents"), "--notes-dir", help="People's notes per incident: "
                           "<ID>.yaml with root_cause, contributing_factors, actions, checklist_changes, entered_by.")
ReviewsOption = typer.Option(DEFAULT_REVIEWS, "--out", help="Review directory (signed, hash-chained).")
ReportsOption = typer.Option(DEFAULT_REPORT_DIR, "--reports", help="Drill reports (a drill's write probe, history).")
PolicyOption = typer.Option(None, "--policy", help="Credit policy file (default: the shipped one).")


@app.command("review")
def review(
    incident_id: str = typer.Argument(..., help="Incident id (from `crmdr status show`)."),
    notes_dir: Path = NotesOption,
    customers: Path | None = typer.Option(None, "--customers", help="Customers CSV for the credits owed "
                                          "(default: the CRM's accounts)."),
    policy: Path | None = PolicyOption,
    out: Path = ReviewsOption,
    reports: Path = ReportsOption,
    journal_dir: Path | None = typer.Option(None, "--journal-dir",
                                            help="Journals (default: $CRMDR_JOURNAL_DIR or .crmdr/runs)."),
    signing_key: Path | None = typer.Option(None, "--signing-key", help="Ed25519 PEM key ($CRMDR_SIGNING_KEY)."),
    inventory: Path | None = InventoryOption,
    json_out: bool = JsonOption,
) -> None:
    """One signed report: timeline, measured RTO/RPO, customer impact, causes, actions, checklist changes."""
    with json_errors(json_out):
        _review(incident_id, notes_dir, customers, policy, out, reports, journal_dir, signing_key, inventory,
                json_out)


def _review(incident_id: str, notes_dir: Path, customers: Path | None, policy: Path | None, out: Path,
            reports: Path, journal_dir: Path | None, signing_key: Path | None, inventory: Path | None,
            json_out: bool) -> None:
    import os
    from datetime import UTC, datetime

    from drills.report.reviews import ReviewChain, review_signer
    from outage.credits.service import customers_from_csv
    from outage.review.service import lab_world, notes_for, review_incident, store_copy
    from policies.credits import load_credit_policy
    from recovery.inventory import load_inventory

    loaded_policy = load_credit_policy(policy)
    listed = customers_from_csv(customers, loaded_policy) if customers is not None else None
    notes_for(incident_id, notes_dir)  # a bad notes file stops here, before anything is read or signed
    path = inventory_path(inventory)
    loaded = load_inventory(path)
    key = review_signer(signing_key, path, loaded.environment)
    journals = journal_dir or Path(os.environ.get("CRMDR_JOURNAL_DIR", ".crmdr/runs"))
    now = datetime.now(UTC)
    world = lab_world(loaded, ReviewChain(out, key), journals, reports, now)
    if listed is None:  # last: the CRM is a network call, and every input above is checked by then
        listed = _crm_customers_or_none(loaded, loaded_policy)
    done, directory = review_incident(incident_id, world, loaded_policy, listed, notes_dir, now=now)
    stored = store_copy(loaded, directory)
    if json_out:
        emit_json({**done.model_dump(mode="json"), "report_dir": str(directory),
                   "html": str(directory / "review.html"), "stored": stored})
        return
    from rich.markup import escape

    m = done.measured
    rto = f"{m.rto_seconds:.3f} s" if m.rto_seconds is not None else "not measured"
    owed = ", ".join(f"{a} {c}" for c, a in done.impact.credits_owed.items()) or "none"
    say(escape(f"review {done.report_id} of incident {done.incident_id}: {done.title}"))
    say(escape(f"  RTO {rto} ({m.rto_basis})"))
    say(escape(f"  downtime {done.impact.down_minutes} min; credits owed {owed} ({done.impact.credits_basis})"))
    say(escape(f"report: {directory / 'review.html'}"))


def _crm_customers_or_none(loaded: "Inventory", policy: "CreditPolicy") -> "list[Customer] | None":
    """The CRM's accounts when they can be read; the review says so when they cannot (it still gets written)."""
    import logging

    from outage.adapters.crm_accounts import crm_customers
    from policies.errors import DrError

    try:
        return crm_customers(loaded, policy)
    except DrError as err:
        logging.getLogger(__name__).warning("customers not read from the CRM: %s", err)
        return None


@app.command("actions")
def actions(
    notes_dir: Path = NotesOption,
    today: str | None = typer.Option(None, "--today", help="Judge due dates as of this day (YYYY-MM-DD; "
                                     "default: today, UTC)."),
    json_out: bool = JsonOption,
) -> None:
    """Open corrective actions, most overdue first; exit 1 when one is past its due date."""
    with json_errors(json_out):
        _actions(notes_dir, today, json_out)


def _actions(notes_dir: Path, today: str | None, json_out: bool) -> None:
    from datetime import UTC, date, datetime

    from outage.review.actions import overdue_reason
    from outage.review.service import actions as open_actions
    from policies.errors import ConfigError

    try:
        day = date.fromisoformat(today) if today else datetime.now(UTC).date()
    except ValueError:
        raise ConfigError(f"--today: expected a date as YYYY-MM-DD, got {today!r}") from None
    found = open_actions(notes_dir, day)
    reason = overdue_reason(found)
    if json_out:
        emit_json({"today": day.isoformat(), "open": [a.to_dict() for a in found], "overdue": reason is not None,
                   "reason": reason})
    else:
        from rich.markup import escape

        for a in found:
            late = f" [red]OVERDUE {a.overdue_days} day(s)[/red]" if a.overdue_days else ""
            say(escape(f"{a.incident}/{a.action.id}: {a.action.action} — {a.action.owner}, due {a.action.due}") + late)
        say(escape(reason or f"{len(found)} open action(s), none overdue"))
    if reason:
        raise typer.Exit(1)


@app.command("history")
def history(
    out: Path = ReviewsOption,
    reports: Path = ReportsOption,
    policy: Path | None = PolicyOption,
    json_out: bool = JsonOption,
) -> None:
    """One page a manager reads: incidents and drills, detect/recover times, downtime, credits, cost."""
    from datetime import UTC, datetime

    from rich.markup import escape

    from drills.report.reviews import read_reviews
    from outage.adapters.drill_reports import summaries
    from outage.review.history import history as figures_of
    from outage.review.history import render_history
    from policies.credits import load_credit_policy

    with json_errors(json_out):
        loaded = load_credit_policy(policy)
        figures = figures_of(read_reviews(out), summaries(reports), loaded.revenue_per_hour, loaded.currency,
                             datetime.now(UTC))
        out.mkdir(parents=True, exist_ok=True)
        page = out / "history.html"
        page.write_bytes(render_history(figures))
        if json_out:
            emit_json({**figures, "html": str(page)})
        else:
            say(f"{figures['incidents']} incident(s), {figures['drills']} drill(s), downtime "
                f"{figures['down_minutes']} min, estimated cost {figures['cost']}")
            say(escape(f"history: {page}"))
