"""`crmdr credits --month YYYY-MM [--customers FILE] [--json]`: the credit ledger, issued without asking."""

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from crmdr.commands.options import InventoryOption, JsonOption, inventory_path
from crmdr.output import emit_json, say

if TYPE_CHECKING:
    from outage.credits.customers import Customer
    from policies.credits import CreditPolicy
    from recovery.inventory import Inventory

DEFAULT_OUT = Path(".crmdr/credits")


def credits(
    month: str = typer.Option(..., "--month", help="Calendar month (UTC) as YYYY-MM."),
    customers: Path | None = typer.Option(None, "--customers", help="Customers CSV (id,name,plan,monthly_fee"
                                          "[,currency,contact,language]); default: the CRM's accounts."),
    policy: Path | None = typer.Option(None, "--policy", help="Credit policy file (default: the shipped "
                                       "policies/credits.yaml)."),
    inventory: Path | None = InventoryOption,
    dry_run: bool = typer.Option(False, "--dry-run", help="Show the ledger; issue and send nothing."),
    out: Path = typer.Option(DEFAULT_OUT, "--out", help="Directory for ledger.{json,csv,html} (a folder per month)."),
    journal_dir: Path | None = typer.Option(None, "--journal-dir", help="Watch and failover journals: declared "
                                            "outages (default: $CRMDR_JOURNAL_DIR or .crmdr/runs)."),
    json_out: bool = JsonOption,
) -> None:
    """Downtime, availability and the credit per customer; a finished month's credits are issued once."""
    from crmdr.output import json_errors

    with json_errors(json_out):
        _credits(month, customers, policy, inventory, dry_run, (out, journal_dir), json_out)


def _credits(month: str, customers: Path | None, policy: Path | None, inventory: Path | None, dry_run: bool,
             dirs: tuple[Path, Path | None], json_out: bool) -> None:
    import os
    from datetime import UTC, datetime

    from outage.credits.series import Month
    from outage.credits.service import customers_from_csv, declared_outages, run_credits, s3_world
    from policies.credits import load_credit_policy
    from recovery.inventory import load_inventory

    chosen = Month.parse(month)
    loaded_policy = load_credit_policy(policy)
    listed = customers_from_csv(customers, loaded_policy) if customers is not None else None
    loaded = load_inventory(inventory_path(inventory))
    if listed is None:
        listed = _crm_customers(loaded, loaded_policy)
    now = datetime.now(UTC)
    run_id = f"{now:%Y%m%dT%H%M%SZ}-credits"
    out, journal_dir = dirs
    spans = declared_outages(loaded, journal_dir or Path(os.environ.get("CRMDR_JOURNAL_DIR", ".crmdr/runs")),
                             loaded_policy, now)
    result = run_credits(loaded_policy, listed, chosen, s3_world(loaded, run_id, spans), now=now, run_id=run_id,
                         issue=not dry_run)
    folder = out / str(chosen)
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in result.files.items():
        (folder / name).write_bytes(data)
    document = {**result.document, "files": [str(folder / name) for name in result.files],
                "stored": result.saved}
    if json_out:
        emit_json(document)
        return
    _show(document)


def _crm_customers(loaded: "Inventory", policy: "CreditPolicy") -> "list[Customer]":
    from outage.adapters.crm_accounts import crm_customers

    return crm_customers(loaded, policy)


def _show(document: dict[str, object]) -> None:
    from rich.markup import escape

    state = "final" if document["complete"] else "[yellow]provisional (month not over; nothing issued)[/yellow]"
    say(f"credits for {document['month']}: {state}")
    for row in document["customers"]:  # type: ignore[attr-defined]
        say(escape(f"  {row['customer_id']} {row['plan']}: {row['down_minutes']} min down, "
                   f"{row['availability_percent']} % (commitment {row['commitment_percent']} %), credit "
                   f"{row['credit_percent']} % = {row['amount']} {row['currency']} [{row['status']}] {row['reason']}"))
    totals = document["totals_owed"] or {"": "none"}
    say("owed: " + ", ".join(f"{amount} {currency}".strip() for currency, amount in totals.items()))  # type: ignore[attr-defined]
    say(f"issued now: {document['issued_now']}, before: {document['issued_before']}, "
        f"notices sent: {document['notices_sent']}")
    for path in document["files"]:  # type: ignore[attr-defined]
        say(escape(f"ledger: {path}"))
