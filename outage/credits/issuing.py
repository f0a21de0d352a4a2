"""Which credits to issue now: once per customer and month, only for a month that is over. Pure.

The store records each issue with a conditional write (create-only), so two runs racing, or a
month issued twice, issue nothing new; this module decides from what is already recorded and
says why for every customer.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from outage.credits.ledger import Ledger, LedgerLine, percent_text


@dataclass(frozen=True)
class IssuedCredit:
    """The record kept in the DR region: no contact, no personal data, only the figures."""

    month: str
    customer_id: str
    customer_name: str
    plan: str
    availability_percent: str
    down_minutes: int
    credit_percent: str
    amount: str
    currency: str
    issued_at: datetime
    run_id: str

    def to_dict(self) -> dict[str, object]:
        return {"month": self.month, "customer_id": self.customer_id, "customer_name": self.customer_name,
                "plan": self.plan, "availability_percent": self.availability_percent,
                "down_minutes": self.down_minutes, "credit_percent": self.credit_percent, "amount": self.amount,
                "currency": self.currency, "issued_at": self.issued_at.isoformat().replace("+00:00", "Z"),
                "run_id": self.run_id}

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> "IssuedCredit":
        return cls(month=str(data["month"]), customer_id=str(data["customer_id"]),
                   customer_name=str(data["customer_name"]), plan=str(data["plan"]),
                   availability_percent=str(data["availability_percent"]),
                   down_minutes=int(str(data["down_minutes"])), credit_percent=str(data["credit_percent"]),
                   amount=str(data["amount"]), currency=str(data["currency"]),
                   issued_at=datetime.fromisoformat(str(data["issued_at"]).replace("Z", "+00:00")),
                   run_id=str(data["run_id"]))


@dataclass(frozen=True)
class Decision:
    """One customer's outcome: issue now, already issued (when and how much), or nothing owed."""

    line: LedgerLine
    status: str  # "issue", "issued-before", "not-owed", "provisional"
    reason: str
    record: IssuedCredit | None = None


def record_for(line: LedgerLine, month: str, now: datetime, run_id: str) -> IssuedCredit:
    return IssuedCredit(month=month, customer_id=line.customer.id, customer_name=line.customer.name,
                        plan=line.plan, availability_percent=percent_text(line.availability.percent),
                        down_minutes=line.availability.down_minutes, credit_percent=str(line.credit_percent),
                        amount=str(line.amount), currency=line.currency, issued_at=now, run_id=run_id)


def provisional_reason(ledger: Ledger) -> str | None:
    """Why nothing may be issued for this ledger yet, or None once its month is over."""
    if ledger.complete:
        return None
    return (f"month {ledger.month} is not over (it ends {ledger.month.end:%Y-%m-%dT%H:%MZ}): the figures are "
            "provisional and nothing is issued")


def decide(ledger: Ledger, issued: Mapping[str, IssuedCredit], now: datetime, run_id: str) -> list[Decision]:
    """Per ledger line, what happens now; `issued` maps customer id to this month's existing record."""
    waiting = provisional_reason(ledger)
    decisions = []
    for line in ledger.lines:
        before = issued.get(line.customer.id)
        if before is not None:
            note = f"issued {before.amount} {before.currency} on {before.issued_at:%Y-%m-%d} (run {before.run_id})"
            if Decimal(before.amount) != line.amount:
                note += f"; the ledger now says {line.amount} {line.currency}: a difference is not issued automatically"
            decisions.append(Decision(line, "issued-before", note, before))
        elif not line.owed:
            decisions.append(Decision(line, "not-owed", line.reason))
        elif waiting:
            decisions.append(Decision(line, "provisional", waiting))
        else:
            decisions.append(Decision(line, "issue", line.reason, record_for(line, str(ledger.month), now, run_id)))
    return decisions
