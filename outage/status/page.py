"""The static status page: current state, every update with its time, the next update due,
90 days of history. HTML that works without JavaScript and reads on a phone."""

from collections.abc import Sequence
from datetime import datetime
from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from outage.status.messages import stamp
from outage.status.model import Incident, in_history, open_incidents
from outage.status.statuspage import component_status, iso, overall
from recovery.inventory import StatusPage

LABELS: dict[str, dict[str, Any]] = {
    "en": {
        "states": {"investigating": "Investigating", "identified": "Identified", "monitoring": "Monitoring",
                   "resolved": "Resolved"},
        "impacts": {"none": "No impact", "minor": "Minor", "major": "Major", "critical": "Critical"},
        "component_status": {"operational": "Operational", "degraded_performance": "Degraded performance",
                             "partial_outage": "Partial outage", "major_outage": "Major outage"},
        "overall": {"none": "All systems operational", "minor": "Minor service disruption",
                    "major": "Partial service outage", "critical": "Major service outage"},
        "components": "Components", "current": "Current incidents", "history": "Past 90 days",
        "no_history": "No incidents in the past 90 days.", "last_updated": "Last updated",
        "next_update": "Next update due by", "impact": "Impact", "affected": "Affected",
        "feed": "Atom feed", "json": "JSON (Statuspage format)", "published": "Page published",
        "drill": "DRILL: this page is an exercise, not a real incident.",
    },
    "de": {
        "states": {"investigating": "Untersuchung", "identified": "Ursache gefunden", "monitoring": "Beobachtung",
                   "resolved": "Behoben"},
        "impacts": {"none": "Keine Auswirkung", "minor": "Gering", "major": "Erheblich", "critical": "Kritisch"},
        "component_status": {"operational": "In Betrieb", "degraded_performance": "Eingeschränkte Leistung",
                             "partial_outage": "Teilausfall", "major_outage": "Ausfall"},
        "overall": {"none": "Alle Systeme in Betrieb", "minor": "Geringe Störung", "major": "Teilweiser Ausfall",
                    "critical": "Schwerer Ausfall"},
        "components": "Komponenten", "current": "Aktuelle Störungen", "history": "Letzte 90 Tage",
        "no_history": "Keine Störungen in den letzten 90 Tagen.", "last_updated": "Zuletzt aktualisiert",
        "next_update": "Nächste Meldung bis", "impact": "Auswirkung", "affected": "Betroffen",
        "feed": "Atom-Feed", "json": "JSON (Statuspage-Format)", "published": "Seite veröffentlicht",
        "drill": "ÜBUNG: Diese Seite ist eine Übung, keine echte Störung.",
    },
}


@cache
def _environment() -> Environment:
    env = Environment(loader=PackageLoader("outage.status", "templates/site"),
                      autoescape=select_autoescape(["html", "j2"]), trim_blocks=True, lstrip_blocks=True)
    env.filters["stamp"] = stamp
    env.filters["iso"] = iso
    return env


def render_page(page: StatusPage, incidents: Sequence[Incident], now: datetime, *, drill: bool = False) -> str:
    """index.html for the incidents in the log, as of `now` (the publication time)."""
    shown = [i for i in incidents if in_history(i, now)]
    active = open_incidents(shown)
    names = {c.id: c.names.get(page.language, c.id) for c in page.components}
    last = max((i.last.at for i in shown), default=None)
    return _environment().get_template("page.html.j2").render(
        page=page, labels=LABELS[page.language], language=page.language, now=now, drill=drill,
        status=overall(shown)["indicator"], active=active, history=[i for i in shown if i.state == "resolved"],
        components=[(c.id, names[c.id], component_status(c.id, shown)) for c in page.components],
        names=names, last_updated=last or now,
    )
