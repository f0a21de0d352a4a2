"""How `crmdr status show` prints incidents (output only)."""

from typing import TYPE_CHECKING, Any

from crmdr.output import emit_json, say

if TYPE_CHECKING:
    from outage.status.model import Incident
    from outage.status.service import StatusService


def show_incidents(svc: "StatusService", incidents: "list[Incident]", json_out: bool) -> None:
    from outage.status.cadence import due, promises

    now = svc.clock.now()
    rows: list[dict[str, Any]] = []
    for incident in incidents:
        verdict = due(incident, now, svc.cadence)
        rows.append({
            "id": incident.id, "title": incident.title, "state": incident.state, "impact": incident.impact,
            "components": list(incident.components), "started_at": incident.started_at.isoformat(),
            "next_update_at": verdict.due_at.isoformat() if verdict.due_at else None,
            "overdue_since": verdict.overdue_since.isoformat() if verdict.overdue_since else None,
            "updates": [u.model_dump(mode="json") for u in incident.updates],
            "overdue_notes": [n.model_dump(mode="json") for n in incident.overdue],
            "promises": [p.to_dict() for p in promises(incident, now)],
            "deliveries": [d.to_dict() for d in svc.deliveries(incident.id)],
        })
    if json_out:
        emit_json({"incidents": rows, "url": svc.page.url, "drill": svc.drill})
        return
    if not rows:
        say("no incidents in the status log")
    for row, incident in zip(rows, incidents, strict=True):
        say(f"[bold]{row['id']}[/bold] {row['title']}: {row['state']} ({row['impact']}); "
            f"{'next update due ' + str(row['next_update_at']) if row['next_update_at'] else 'resolved'}")
        for update in incident.updates:
            say(f"  {update.seq:>3} {update.at.isoformat()} {update.state} by {update.author} ({update.source})")
        for delivery in row["deliveries"]:
            say(f"      -> {delivery['channel']} {delivery['target']}: {delivery['outcome']} "
                f"(update {delivery['seq']}, {delivery['attempts']} attempt(s))")
