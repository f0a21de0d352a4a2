"""The communication record for drill and incident reports: each update with its time, channel
and deliveries, promises kept or missed, and the time from detection to the first notice. Pure."""

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from outage.status.cadence import promises
from outage.status.model import Incident
from outage.status.statuspage import iso
from outage.status.subscribers import Delivery


def communication_record(incident: Incident | None, deliveries: Sequence[Delivery], detected_at: datetime | None,
                         now: datetime, *, drill: bool) -> dict[str, Any]:
    """`first_notice_seconds`: detection (the watch's declaration) -> the first update's time."""
    if incident is None:
        return {"drill": drill, "incident": None, "updates": [], "promises": [], "first_notice_seconds": None,
                "detected_at": iso(detected_at), "sent_to_customers": False}
    by_seq: dict[int, list[dict[str, Any]]] = {}
    for delivery in deliveries:
        by_seq.setdefault(delivery.seq, []).append(delivery.to_dict())
    first = incident.first.at
    return {
        "drill": drill,
        "incident": incident.id,
        "title": incident.title,
        "detected_at": iso(detected_at),
        "first_notice_at": iso(first),
        "first_notice_seconds": round((first - detected_at).total_seconds(), 3) if detected_at else None,
        "sent_to_customers": not drill,
        "updates": [{"seq": u.seq, "state": u.state, "at": iso(u.at), "next_update_at": iso(u.next_update_at),
                     "source": u.source, "author": u.author, "message": u.message,
                     "channels": ["page", *sorted({d["channel"] for d in by_seq.get(u.seq, [])})],
                     "deliveries": by_seq.get(u.seq, [])} for u in incident.updates],
        "promises": [p.to_dict() for p in promises(incident, now)],
        "overdue_noted": [iso(n.promised_at) for n in incident.overdue],
    }
