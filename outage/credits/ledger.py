"""The credit ledger of one month: downtime, availability, error budget and the credit per customer. Pure.

Availability = minutes up / minutes in the month, exact (Decimal), so a month exactly at a
threshold is at it, not below it. A customer's downtime is the union of the down minutes of
the components their plan covers and of everything those depend on. Money is Decimal, rounded
half-up to cents once, after the cap: a credit under the plan's minimum is not issued and says so.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal

from outage.credits.customers import Customer
from outage.credits.series import ComponentMonth, MinuteBucket, Month, Span, component_months
from policies.credits import CreditPolicy, Plan

CENT = Decimal("0.01")
HUNDRED = Decimal(100)


@dataclass(frozen=True)
class Availability:
    """Down minutes out of the month's minutes, and the error budget against a commitment."""

    minutes: int
    down_minutes: int
    measured_minutes: int

    @property
    def percent(self) -> Decimal:
        if not self.minutes:
            return HUNDRED
        return Decimal(self.minutes - self.down_minutes) * HUNDRED / Decimal(self.minutes)

    def budget_minutes(self, commitment: Decimal) -> Decimal:
        """Down minutes the commitment allows in this month (may be fractional: 43.2 at 99.9 % of 30 days)."""
        return Decimal(self.minutes) * (HUNDRED - commitment) / HUNDRED

    def budget_left(self, commitment: Decimal) -> Decimal:
        """Allowed minus used; negative when the commitment was missed."""
        return self.budget_minutes(commitment) - self.down_minutes


@dataclass(frozen=True)
class LedgerLine:
    """One customer's month: what affected them and what they are owed."""

    customer: Customer
    plan: str
    commitment: Decimal
    components: tuple[str, ...]
    covers: frozenset[str]  # the plan's components and everything they depend on
    availability: Availability
    credit_percent: Decimal
    amount: Decimal
    currency: str
    reason: str  # why this amount: the step earned, no credits on the plan, below the minimum, capped

    @property
    def owed(self) -> bool:
        return self.amount > 0


@dataclass(frozen=True)
class Ledger:
    month: Month
    complete: bool  # the month is over: figures are final and may be issued
    components: dict[str, Availability]
    lines: list[LedgerLine]
    generated_at: datetime

    def total(self) -> dict[str, Decimal]:
        """Credits owed per currency."""
        totals: dict[str, Decimal] = {}
        for line in self.lines:
            if line.owed:
                totals[line.currency] = totals.get(line.currency, Decimal(0)) + line.amount
        return totals


def percent_text(value: Decimal) -> str:
    """Four decimals, truncated (never rounded up to a threshold): 99.8981 %."""
    return f"{value.quantize(Decimal('0.0001'), rounding=ROUND_DOWN)}"


def credit_amount(plan: Plan, fee: Decimal, percent: Decimal) -> tuple[Decimal, str]:
    """The amount for `percent` of `fee` after the plan's cap and minimum, and the reason in words."""
    if not plan.credits:
        return Decimal("0.00"), "the plan has no service credits"
    if percent == 0:
        return Decimal("0.00"), "availability met the commitment"
    raw = fee * percent / HUNDRED
    reason = f"{percent} % of the monthly fee"
    cap = fee * plan.cap_percent / HUNDRED
    if plan.cap_amount is not None:
        cap = min(cap, plan.cap_amount)
    if raw > cap:
        raw, reason = cap, f"{reason}, capped at {cap.quantize(CENT, rounding=ROUND_HALF_UP)}"
    amount = raw.quantize(CENT, rounding=ROUND_HALF_UP)
    if amount < plan.minimum_amount:
        return Decimal("0.00"), f"{reason} is {amount}, below the plan's minimum of {plan.minimum_amount}"
    return amount, reason


def _availability(months: dict[str, ComponentMonth], covered: Iterable[str], total: int) -> Availability:
    chosen = [months[name] for name in covered if name in months]
    down = frozenset().union(*(m.down for m in chosen)) if chosen else frozenset()
    measured = max((m.measured for m in chosen), default=0)
    return Availability(minutes=total, down_minutes=len(down), measured_minutes=measured)


def build_ledger(policy: CreditPolicy, customers: Sequence[Customer], buckets: Iterable[MinuteBucket],
                 spans: Iterable[Span], month: Month, now: datetime) -> Ledger:
    """Every customer's line for `month`, as measured by `now` (final once the month is over)."""
    months = component_months(buckets, spans, month, policy.components, policy.downtime_minute, until=now)
    per_component = {name: _availability(months, policy.depends(name), month.minutes) for name in policy.components}
    lines = []
    for customer in customers:
        plan = policy.plan(customer.plan)
        components = policy.components_of(plan)
        covered = frozenset().union(*(policy.depends(name) for name in components))
        availability = _availability(months, sorted(covered), month.minutes)
        percent = plan.credit_percent(availability.percent)
        amount, reason = credit_amount(plan, customer.monthly_fee, percent)
        lines.append(LedgerLine(customer=customer, plan=customer.plan, commitment=plan.commitment,
                                components=components, covers=covered, availability=availability,
                                credit_percent=percent, amount=amount, currency=policy.currency_of(plan),
                                reason=reason))
    return Ledger(month=month, complete=now >= month.end, components=per_component, lines=lines,
                  generated_at=now)
