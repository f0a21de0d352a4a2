"""Customers to credit: id, name, plan, monthly fee, currency, contact, language. Pure.

From a CSV file (`--customers FILE`, header row, columns below) or from the CRM's accounts
(outage/adapters/crm_accounts.py). A bad row is one sentence naming the file, the line and the
column, and nothing is issued. The contact is used only to address a notice: it never enters
the ledger, a log or a report.
"""

import csv
import io
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Literal

from policies.credits import CreditPolicy
from policies.errors import ConfigError

Language = Literal["en", "de"]
LANGUAGES: tuple[Language, ...] = ("en", "de")
REQUIRED = ("id", "name", "plan", "monthly_fee")
COLUMNS = (*REQUIRED, "currency", "contact", "language")


@dataclass(frozen=True)
class Customer:
    id: str
    name: str
    plan: str
    monthly_fee: Decimal
    currency: str
    contact: str = ""
    language: Language = "en"


def parse_fee(text: str) -> Decimal:
    """A non-negative amount with at most two decimals (`1200`, `1200.50`)."""
    try:
        fee = Decimal(text.strip())
    except InvalidOperation:
        raise ValueError(f"expected an amount such as 1200.00, got {text!r}") from None
    if not fee.is_finite() or fee < 0 or fee != fee.quantize(Decimal("0.01")):
        raise ValueError(f"expected an amount of zero or more with at most two decimals, got {text!r}")
    return fee.quantize(Decimal("0.01"))


def customer_from_row(row: dict[str, str], policy: CreditPolicy) -> Customer:
    """One customer; ValueError carries (column, reason) for the caller to place."""
    for column in REQUIRED:
        if not (row.get(column) or "").strip():
            raise _Bad(column, "is empty (required)")
    plan_name = row["plan"].strip()
    if plan_name not in policy.plans:
        raise _Bad("plan", f"unknown plan {plan_name!r} (the credit policy defines: {', '.join(sorted(policy.plans))})")
    try:
        fee = parse_fee(row["monthly_fee"])
    except ValueError as err:
        raise _Bad("monthly_fee", str(err)) from None
    expected = policy.currency_of(policy.plans[plan_name])
    currency = (row.get("currency") or "").strip().upper() or expected
    if currency != expected:
        raise _Bad("currency", f"plan {plan_name!r} is priced in {expected}, got {currency!r}")
    language = (row.get("language") or "").strip().lower() or "en"
    if language not in LANGUAGES:
        raise _Bad("language", f"expected one of {', '.join(LANGUAGES)}, got {language!r}")
    return Customer(id=row["id"].strip(), name=row["name"].strip(), plan=plan_name, monthly_fee=fee,
                    currency=currency, contact=(row.get("contact") or "").strip(),
                    language=language)


class _Bad(ValueError):
    def __init__(self, column: str, reason: str) -> None:
        super().__init__(reason)
        self.column = column


def parse_customers(text: str, *, source: str, policy: CreditPolicy) -> list[Customer]:
    """Every row of a customers CSV, or a ConfigError naming `source`, the line and the column."""
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [name.strip() for name in reader.fieldnames or []]
    missing = [column for column in REQUIRED if column not in header]
    if missing:
        raise ConfigError(f"{source}: line 1: missing column(s) {', '.join(missing)} "
                          f"(expected a header row with {', '.join(COLUMNS)})")
    unknown = [column for column in header if column not in COLUMNS]
    if unknown:
        raise ConfigError(f"{source}: line 1: column '{unknown[0]}' is not known (columns: {', '.join(COLUMNS)})")
    reader.fieldnames = header
    customers: list[Customer] = []
    seen: dict[str, int] = {}
    try:
        for row in reader:
            line = reader.line_num
            if None in row:
                raise ConfigError(f"{source}: line {line}: more fields than the header's {len(header)} columns")
            try:
                customer = customer_from_row({k: v or "" for k, v in row.items()}, policy)
            except _Bad as bad:
                raise ConfigError(f"{source}: line {line}: column '{bad.column}': {bad}") from None
            if customer.id in seen:
                raise ConfigError(f"{source}: line {line}: column 'id': customer {customer.id!r} is already "
                                  f"on line {seen[customer.id]}")
            seen[customer.id] = line
            customers.append(customer)
    except csv.Error as err:
        raise ConfigError(f"{source}: line {reader.line_num}: not valid CSV ({err})") from None
    return customers
