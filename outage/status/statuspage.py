"""The log in Atlassian Statuspage's public shapes, so existing widgets and monitors read it.

`/api/v2/summary.json` (page, components, unresolved incidents, overall status) and
`/api/v2/incidents.json` (the 50 most recent incidents with their updates), as documented
for Statuspage's public API. Pure: `now` is the page's `updated_at`.
"""

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from outage.status.model import Impact, Incident, Update, open_incidents
from recovery.inventory import StatusPage

MAX_INCIDENTS = 50
COMPONENT_STATUS: dict[Impact, str] = {"none": "operational", "minor": "degraded_performance",
                                       "major": "partial_outage", "critical": "major_outage"}
INDICATOR_TEXT = {"none": "All Systems Operational", "minor": "Minor Service Outage",
                  "major": "Partial System Outage", "critical": "Major System Outage"}
_RANK = {"none": 0, "minor": 1, "major": 2, "critical": 3}


def iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z") if value else None


def page_id(page: StatusPage) -> str:
    return page.url.rstrip("/").rsplit("/", 1)[-1].replace(".", "-").replace(":", "-") or "crmdr"


def _page(page: StatusPage, now: datetime) -> dict[str, Any]:
    return {"id": page_id(page), "name": page.name, "url": page.url.rstrip("/"), "time_zone": "Etc/UTC",
            "updated_at": iso(now)}


def component_status(component: str, incidents: Sequence[Incident]) -> str:
    """The worst impact among open incidents naming the component."""
    worst: Impact = "none"
    for incident in open_incidents(incidents):
        if component in incident.components and _RANK[incident.impact] > _RANK[worst]:
            worst = incident.impact
    return COMPONENT_STATUS[worst]


def _components(page: StatusPage, incidents: Sequence[Incident], now: datetime) -> list[dict[str, Any]]:
    return [{"id": c.id, "name": c.names.get(page.language, c.id), "status": component_status(c.id, incidents),
             "created_at": None, "updated_at": iso(now), "position": position, "description": None,
             "showcase": True, "start_date": None, "group_id": None, "page_id": page_id(page), "group": False,
             "only_show_if_degraded": False}
            for position, c in enumerate(page.components, start=1)]


def _affected(page: StatusPage, update: Update, previous: Update | None) -> list[dict[str, Any]]:
    names = {c.id: c.names.get(page.language, c.id) for c in page.components}
    new = "operational" if update.state == "resolved" else COMPONENT_STATUS[update.impact]
    old = ("operational" if previous is None or previous.state == "resolved"
           else COMPONENT_STATUS[previous.impact])
    return [{"code": code, "name": names.get(code, code), "old_status": old, "new_status": new}
            for code in update.components]


def incident_json(page: StatusPage, incident: Incident) -> dict[str, Any]:
    """One incident as Statuspage's public API shows it; updates newest first."""
    updates = []
    for index, update in enumerate(incident.updates):
        previous = incident.updates[index - 1] if index else None
        updates.append({
            "id": f"{incident.id}-{update.seq}", "status": update.state, "body": update.message,
            "incident_id": incident.id, "created_at": iso(update.at), "updated_at": iso(update.at),
            "display_at": iso(update.at), "affected_components": _affected(page, update, previous),
            "deliver_notifications": True, "custom_tweet": None, "tweet_id": None,
            "next_update_at": iso(update.next_update_at),
        })
    names = {c.id: c.names.get(page.language, c.id) for c in page.components}
    return {
        "id": incident.id, "name": incident.title, "status": incident.state, "impact": incident.impact,
        "created_at": iso(incident.created_at), "updated_at": iso(incident.last.at),
        "started_at": iso(incident.started_at), "monitoring_at": iso(incident.first_at("monitoring")),
        "resolved_at": iso(incident.resolved_at), "shortlink": f"{page.url.rstrip('/')}/#incident-{incident.id}",
        "page_id": page_id(page), "incident_updates": list(reversed(updates)),
        "components": [{"id": code, "name": names.get(code, code),
                        "status": component_status(code, [incident])} for code in incident.components],
    }


def overall(incidents: Sequence[Incident]) -> dict[str, str]:
    worst: Impact = "none"
    for incident in open_incidents(incidents):
        if _RANK[incident.impact] > _RANK[worst]:
            worst = incident.impact
    return {"indicator": worst, "description": INDICATOR_TEXT[worst]}


def summary_json(page: StatusPage, incidents: Sequence[Incident], now: datetime) -> dict[str, Any]:
    return {"page": _page(page, now), "components": _components(page, incidents, now),
            "incidents": [incident_json(page, i) for i in open_incidents(incidents)],
            "scheduled_maintenances": [], "status": overall(incidents)}


def incidents_json(page: StatusPage, incidents: Sequence[Incident], now: datetime) -> dict[str, Any]:
    return {"page": _page(page, now), "incidents": [incident_json(page, i) for i in incidents[:MAX_INCIDENTS]]}
