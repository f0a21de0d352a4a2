"""The ledger as JSON (the canonical shape of `--json`), CSV (safe in a spreadsheet) and HTML. Pure.

CSV cells that a spreadsheet would run as a formula (=, +, -, @, tab, CR first) are prefixed
with a quote; the HTML is escaped by Jinja2's autoescape, needs no JavaScript and loads nothing.
"""

import csv
import io
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from outage.credits.issuing import Decision
from outage.credits.ledger import Availability, Ledger, percent_text
from policies.credits import CreditPolicy

CSV_COLUMNS = ("month", "customer_id", "customer_name", "plan", "commitment_percent", "components", "minutes",
               "down_minutes", "availability_percent", "error_budget_left_minutes", "credit_percent", "amount",
               "currency", "status", "reason")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def iso(value: Any) -> str:
    return value.isoformat(timespec="seconds").replace("+00:00", "Z")


def _minutes(value: Decimal) -> str:
    return format(value.quantize(Decimal("0.01")).normalize(), "f")


def availability_dict(availability: Availability) -> dict[str, Any]:
    return {"minutes": availability.minutes, "down_minutes": availability.down_minutes,
            "measured_minutes": availability.measured_minutes,
            "availability_percent": percent_text(availability.percent)}


def ledger_dict(ledger: Ledger, decisions: Sequence[Decision], policy: CreditPolicy) -> dict[str, Any]:
    """The whole month: components, one entry per customer with its decision, totals owed."""
    rule = policy.downtime_minute
    customers = []
    for decision in decisions:
        line = decision.line
        customers.append({
            "customer_id": line.customer.id, "customer_name": line.customer.name, "plan": line.plan,
            "commitment_percent": str(line.commitment), "components": list(line.components),
            **availability_dict(line.availability),
            "error_budget_minutes": _minutes(line.availability.budget_minutes(line.commitment)),
            "error_budget_left_minutes": _minutes(line.availability.budget_left(line.commitment)),
            "credit_percent": str(line.credit_percent), "amount": str(line.amount), "currency": line.currency,
            "status": decision.status, "reason": decision.reason,
        })
    return {
        "month": str(ledger.month), "complete": ledger.complete, "generated_at": iso(ledger.generated_at),
        "minutes": ledger.month.minutes,
        "downtime_minute": {"failed_share_percent": str(rule.failed_share), "minimum_probes": rule.minimum_probes,
                            "unmeasured": rule.unmeasured},
        "components": {name: availability_dict(a) for name, a in ledger.components.items()},
        "customers": customers,
        "totals_owed": {currency: str(amount) for currency, amount in sorted(ledger.total().items())},
        "issued_now": sum(1 for d in decisions if d.status == "issue"),
        "issued_before": sum(1 for d in decisions if d.status == "issued-before"),
    }


def safe_cell(value: object) -> str:
    """A cell a spreadsheet shows as text: a leading formula character is quoted away."""
    text = str(value)
    return f"'{text}" if text.startswith(_FORMULA_START) else text


def render_csv(document: dict[str, Any]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for row in document["customers"]:
        values = {**row, "month": document["month"], "components": " ".join(row["components"])}
        writer.writerow([safe_cell(values[column]) for column in CSV_COLUMNS])
    return out.getvalue().encode()


def render_html(document: dict[str, Any], *, language: str = "en") -> bytes:
    env = Environment(loader=PackageLoader("outage.credits", "templates"),
                      autoescape=select_autoescape(["html", "j2"]), keep_trailing_newline=True)
    return env.get_template("ledger.html.j2").render(d=document, lang=language).encode()
