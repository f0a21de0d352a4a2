"""Service-credit policy: plans with a monthly commitment, credit steps, minimum, cap and currency.

Loaded like the SLA tiers (typed, line-aware: every error names the file, the line and the
field), so `crmdr credits` and `crmdr policy check` reject a bad file before anything is issued.
"""

from decimal import Decimal
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from policies.documents import Problem, load_shipped_or
from policies.errors import ConfigError

Percent = Annotated[Decimal, Field(ge=0, le=100)]
Money = Annotated[Decimal, Field(ge=0, decimal_places=2), AfterValidator(lambda d: d.quantize(Decimal("0.01")))]
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$")]
Name = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9_.-]*$")]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class DowntimeMinute(_Model):
    """When a minute counts as down; the default is GitLab's (5 % of valid requests failed)."""

    failed_share: Annotated[Decimal, Field(gt=0, le=100)] = Decimal(5)
    minimum_probes: Annotated[int, Field(ge=1)] = 1
    unmeasured: Literal["up", "down"] = "up"


class CreditStep(_Model):
    """Availability below `below` percent earns `credit` percent of the monthly fee."""

    below: Percent
    credit: Percent


class Plan(_Model):
    description: str = ""
    commitment: Percent
    credits: list[CreditStep] = Field(default_factory=list)
    minimum_amount: Money = Decimal("0.00")
    cap_percent: Percent = Decimal(100)
    cap_amount: Money | None = None
    currency: Currency | None = None  # default: the policy's currency
    components: list[Name] | None = None  # default: every component of the policy

    def credit_percent(self, availability: Decimal) -> Decimal:
        """The deepest step whose threshold the availability is strictly below (0 when none)."""
        earned = [step.credit for step in self.credits if availability < step.below]
        return max(earned, default=Decimal(0))


class CrmAccounts(_Model):
    """Where the CRM keeps each account's plan and fee: a query returning the customers CSV's columns."""

    query: Annotated[str, Field(min_length=1)] = (
        "SELECT id, name, plan, monthly_fee, currency, contact, language FROM crmdr_billing_accounts ORDER BY id")


class CreditPolicy(_Model):
    version: Literal[1] = 1
    currency: Currency = "EUR"
    downtime_minute: DowntimeMinute = Field(default_factory=DowntimeMinute)
    components: dict[Name, str] = Field(default_factory=lambda: {"database": "the CRM database"}, min_length=1)
    depends_on: dict[Name, list[Name]] = Field(default_factory=dict)
    revenue_per_hour: Money = Decimal("0.00")
    crm_accounts: CrmAccounts = Field(default_factory=CrmAccounts)
    plans: dict[Name, Plan] = Field(min_length=1)

    def plan(self, name: str) -> Plan:
        """The named plan, or a ConfigError listing the plans that exist."""
        try:
            return self.plans[name]
        except KeyError:
            known = ", ".join(sorted(self.plans))
            raise ConfigError(f"unknown plan '{name}' (the credit policy defines: {known})") from None

    def currency_of(self, plan: Plan) -> str:
        return plan.currency or self.currency

    def components_of(self, plan: Plan) -> tuple[str, ...]:
        return tuple(plan.components) if plan.components is not None else tuple(self.components)

    def depends(self, component: str) -> frozenset[str]:
        """The component and everything it depends on, transitively."""
        seen: set[str] = set()
        todo = [component]
        while todo:
            name = todo.pop()
            if name not in seen:
                seen.add(name)
                todo += self.depends_on.get(name, [])
        return frozenset(seen)



def credit_policy_problems(policy: CreditPolicy) -> list[Problem]:
    """What a type cannot catch: unknown components, steps out of order, a cap below the minimum."""
    problems: list[Problem] = []
    for name, targets in policy.depends_on.items():
        for i, target in enumerate([name, *targets]):
            if target not in policy.components:
                loc: tuple[str | int, ...] = ("depends_on", name) if i == 0 else ("depends_on", name, i - 1)
                problems.append((loc, f"unknown component '{target}' (components: {', '.join(policy.components)})"))
    for name, plan in policy.plans.items():
        here: tuple[str | int, ...] = ("plans", name)
        for i, component in enumerate(plan.components or []):
            if component not in policy.components:
                problems.append(((*here, "components", i), f"unknown component '{component}'"))
        previous: CreditStep | None = None
        for i, step in enumerate(plan.credits):
            if step.below > plan.commitment:
                problems.append(((*here, "credits", i, "below"),
                                 f"a credit step above the commitment {plan.commitment} % of plan '{name}'"))
            if previous and not (step.below < previous.below and step.credit > previous.credit):
                problems.append(((*here, "credits", i),
                                 "expected steps ordered by falling availability and rising credit"))
            previous = step
        if plan.cap_amount is not None and plan.cap_amount < plan.minimum_amount:
            problems.append(((*here, "cap_amount"), f"cap {plan.cap_amount} is below the minimum amount "
                                                    f"{plan.minimum_amount} of plan '{name}'"))
    return problems


def load_credit_policy(path: Path | None = None) -> CreditPolicy:
    """Load and check a credit policy; None means the one shipped with the toolkit."""
    return load_shipped_or(path, "credits.yaml", CreditPolicy, what="credit policy",
                           problems=credit_policy_problems)
