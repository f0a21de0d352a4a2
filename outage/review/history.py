"""The history a manager reads: incidents and drills, downtime, credits and cost per month. Pure.

Cost = downtime hours x the credit policy's revenue per hour, shown with the formula it rests
on; credits owed are listed apart (they come on top).
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from statistics import median
from typing import Any

from outage.review.model import IncidentReview
from outage.review.render import environment, secs


@dataclass(frozen=True)
class DrillSummary:
    finished_at: datetime
    drill_type: str
    passed: bool
    detect_seconds: float | None
    rto_seconds: float | None
    actions: int


def _money(value: Decimal) -> str:
    return f"{value.quantize(Decimal('0.01'))}"


def _started(review: IncidentReview) -> datetime:
    return review.measured.outage_started_at or review.generated_at


def _rows(reviews: Sequence[IncidentReview], drills: Sequence[DrillSummary]) -> list[dict[str, Any]]:
    """One row per incident and per drill, oldest first."""
    rows: list[dict[str, Any]] = []
    for r in reviews:
        m = r.measured
        rows.append({"when": f"{_started(r):%Y-%m-%d %H:%M}", "title": r.title,
                     "kind": "drill incident" if r.drill else "incident", "detect": secs(m.time_to_detect_seconds),
                     "recover": secs(m.rto_seconds), "down_minutes": r.impact.down_minutes,
                     "actions_open": sum(1 for a in r.findings.corrective_actions if a.status == "open")})
    for d in drills:
        rows.append({"when": f"{d.finished_at:%Y-%m-%d %H:%M}", "title": f"{d.drill_type} drill "
                     f"({'passed' if d.passed else 'failed'})", "kind": "drill", "detect": secs(d.detect_seconds),
                     "recover": secs(d.rto_seconds), "down_minutes": "—", "actions_open": d.actions})
    return sorted(rows, key=lambda row: row["when"])


def _months(real: Sequence[IncidentReview], revenue_per_hour: Decimal, currency: str) -> list[dict[str, Any]]:
    """Incidents, downtime, credits owed (the month's ledger total) and cost per month."""
    months: dict[str, dict[str, Any]] = {}
    for r in real:
        month = f"{_started(r):%Y-%m}"
        row = months.setdefault(month, {"month": month, "incidents": 0, "down_minutes": 0, "credits": {}})
        row["incidents"] += 1
        row["down_minutes"] += r.impact.down_minutes
        row["credits"].update(r.impact.credits_owed)  # the month's ledger total: the same for each of its incidents
    for row in months.values():
        row["cost"] = f"{_money(Decimal(row['down_minutes']) / 60 * revenue_per_hour)} {currency}"
        row["credits"] = ", ".join(f"{a} {c}" for c, a in sorted(row["credits"].items()))
    return [months[k] for k in sorted(months)]


def history(reviews: Sequence[IncidentReview], drills: Sequence[DrillSummary], revenue_per_hour: Decimal,
            currency: str, now: datetime) -> dict[str, Any]:
    """The figures of the page; the newest review of each incident counts, drills are listed apart."""
    latest: dict[str, IncidentReview] = {}
    for review in sorted(reviews, key=lambda r: r.generated_at):
        latest[review.incident_id] = review
    chosen = sorted(latest.values(), key=_started)
    real = [r for r in chosen if not r.drill]
    down = sum(r.impact.down_minutes for r in real)
    detects = [r.measured.time_to_detect_seconds for r in real if r.measured.time_to_detect_seconds is not None]
    recovers = [r.measured.rto_seconds for r in real if r.measured.rto_seconds is not None]
    actions = [a for r in chosen for a in r.findings.corrective_actions]
    cost = Decimal(down) / 60 * revenue_per_hour
    return {
        "generated_at": f"{now:%Y-%m-%d %H:%M} UTC", "incidents": len(real), "drills": len(drills),
        "median_detect": secs(median(detects)) if detects else "—",
        "median_recover": secs(median(recovers)) if recovers else "—",
        "down_minutes": down, "cost": f"{_money(cost)} {currency}",
        "revenue_per_hour": f"{_money(revenue_per_hour)} {currency}",
        "cost_formula": f"{down} min / 60 x {_money(revenue_per_hour)} = {_money(cost)} {currency}",
        "actions_open": sum(1 for a in actions if a.status == "open"),
        "actions_closed": sum(1 for a in actions if a.status == "done"),
        "months": _months(real, revenue_per_hour, currency), "rows": _rows(chosen, drills),
    }


def render_history(figures: dict[str, Any]) -> bytes:
    return environment().get_template("history.html.j2").render(h=figures).encode()
