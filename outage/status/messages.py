"""Customer messages drafted from templates that are honest by construction.

Every message says what is known, what is not yet known, apologises and carries its time.
The templates see only what was measured or given: a fix time appears only when a person
gave one; "no acknowledged data was lost" only when a measurement counted exactly zero
acknowledged writes missing. Operators may replace the text (`verbatim`), never the time.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache

from jinja2 import Environment, PackageLoader, StrictUndefined

from outage.status.model import State

LANGUAGES = ("en", "de")


@dataclass(frozen=True)
class DataLoss:
    """A measurement of acknowledged writes missing after recovery, and who measured it."""

    acknowledged_lost: int
    measured_by: str  # e.g. "failover run failover-2026...-ab12, write-probe ledger"


@dataclass(frozen=True)
class Facts:
    """What the message may say: given by a person or measured by crm-dr, nothing else."""

    state: State
    at: datetime
    components: tuple[str, ...]  # display names in the audience's language
    started_at: datetime | None = None
    service_back_at: datetime | None = None
    next_update_at: datetime | None = None
    fix_time: datetime | None = None  # only when a person gave one
    note: str | None = None  # the operator's own words for "what we know"
    data_loss: DataLoss | None = None


def stamp(value: datetime) -> str:
    """Times customers read: minutes, always UTC and saying so."""
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def span(value: timedelta, language: str) -> str:
    """`1 h 5 min` / `1 Std. 5 Min.`; under a minute in seconds."""
    seconds = max(0, int(value.total_seconds()))
    hour, minute = ("Std.", "Min.") if language == "de" else ("h", "min")
    if seconds < 60:
        return f"{seconds} s"
    hours, minutes = divmod(seconds // 60, 60)
    return f"{hours} {hour} {minutes} {minute}" if hours else f"{minutes} {minute}"


def join_names(names: tuple[str, ...], language: str) -> str:
    word = " und " if language == "de" else " and "
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + word + names[-1]


@cache
def _environment() -> Environment:
    return Environment(loader=PackageLoader("outage.status", "templates/messages"), autoescape=False,  # noqa: S701  # plain text; the page escapes it
                       undefined=StrictUndefined, keep_trailing_newline=False, trim_blocks=False)


def draft(facts: Facts, language: str) -> str:
    """The message for `facts.state` in `language` (en or de)."""
    if language not in LANGUAGES:
        raise ValueError(f"expected a language among {', '.join(LANGUAGES)}, got '{language}'")
    started, back = facts.started_at, facts.service_back_at
    context = {
        "at": stamp(facts.at),
        "components": join_names(facts.components, language),
        "single": len(facts.components) == 1,
        "started": stamp(started) if started else None,
        "duration": span(facts.at - started, language) if started else None,
        "back": stamp(back) if back else None,
        "outage": span(back - started, language) if back and started else None,
        "next_update": stamp(facts.next_update_at) if facts.next_update_at else None,
        "fix_time": stamp(facts.fix_time) if facts.fix_time else None,
        "note": facts.note.strip() if facts.note and facts.note.strip() else None,
        "no_data_lost": facts.data_loss is not None and facts.data_loss.acknowledged_lost == 0,
        "measured_by": facts.data_loss.measured_by if facts.data_loss else "",
    }
    text = _environment().get_template(f"{language}/{facts.state}.txt.j2").render(**context)
    return "\n".join(line.rstrip() for line in text.strip().splitlines())
