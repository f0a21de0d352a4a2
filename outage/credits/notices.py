"""Customer notices for issued credits, drafted from Jinja2 templates (English, German). Pure.

Each notice says what happened (downtime as measured, the outages declared), for how long,
the credit applied and an apology; nothing beyond the figures (no cause guessed, no promise).
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from jinja2 import Environment, PackageLoader, StrictUndefined

from outage.credits.customers import Customer, Language
from outage.credits.ledger import LedgerLine, percent_text
from outage.credits.series import Month, Span

MONTHS = {
    "en": ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December"],
    "de": ["Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September", "Oktober",
           "November", "Dezember"],
}


@dataclass(frozen=True)
class Notice:
    """A drafted notice; `contact` addresses it and is never logged or stored with the ledger."""

    customer_id: str
    contact: str
    language: Language
    subject: str
    body: str


def duration_text(minutes: float, language: Language) -> str:
    """`2 h 5 min` / `2 Std. 5 Min.`; under an hour just minutes."""
    whole = int(minutes)
    hours, rest = divmod(whole, 60)
    h, m = ("h", "min") if language == "en" else ("Std.", "Min.")
    return f"{hours} {h} {rest} {m}" if hours else f"{rest} {m}"


def _number(value: str, language: Language) -> str:
    return value.replace(".", ",") if language == "de" else value


def _environment() -> Environment:
    return Environment(loader=PackageLoader("outage.credits", "templates"), undefined=StrictUndefined,
                       keep_trailing_newline=True, autoescape=False)  # noqa: S701  # plain text, not HTML


def draft_notice(line: LedgerLine, month: Month, spans: Sequence[Span], generated_at: datetime) -> Notice:
    """The notice for one customer's credit, in the customer's language."""
    customer: Customer = line.customer
    lang = customer.language
    shown = [s for s in spans if s.end > month.start and s.start < month.end and s.components & line.covers]
    text = _environment().get_template(f"notice.{lang}.txt.j2").render(
        customer=customer.name, month_name=f"{MONTHS[lang][month.month - 1]} {month.year}",
        downtime=duration_text(line.availability.down_minutes, lang),
        down_minutes=line.availability.down_minutes, components=", ".join(line.components),
        spans=[{"start": f"{s.start:%Y-%m-%d %H:%M}", "end": f"{s.end:%Y-%m-%d %H:%M}",
                "length": duration_text((s.end - s.start) / timedelta(minutes=1), lang)} for s in shown],
        commitment=_number(str(line.commitment), lang),
        availability=_number(percent_text(line.availability.percent), lang),
        credit_percent=_number(str(line.credit_percent), lang),
        amount=_number(str(line.amount.quantize(Decimal("0.01"))), lang), currency=line.currency,
        generated_at=f"{generated_at:%Y-%m-%d %H:%M}",
    )
    subject, _, body = text.partition("\n")
    return Notice(customer_id=customer.id, contact=customer.contact, language=lang,
                  subject=subject.removeprefix("Subject: ").strip(), body=body.lstrip("\n"))
