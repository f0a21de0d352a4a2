"""Incidents from the status log (outage/status, the DR-region bucket), as the review needs them.

The status package's incident is folded from its append-only log; this adapter reads the public
log and the drill log (a drill's incident is reviewed like any other, marked as a drill) and
keeps only what a review shows: times, states, sources and delivery counts, no addresses.
"""

from datetime import timedelta
from typing import Any

from outage.review.build import IncidentFacts, UpdateFact
from recovery.inventory import Inventory


class StatusLogIncidents:
    """IncidentSource over `outage.status.service.StatusService` (public and drill logs)."""

    def __init__(self, inventory: Inventory) -> None:
        self._inventory = inventory

    def incidents(self) -> list[IncidentFacts]:
        from outage.status.service import StatusService

        found: list[IncidentFacts] = []
        for drill in (False, True):
            service: Any = StatusService(self._inventory, timedelta(minutes=30), drill=drill)
            deliveries = list(service.deliveries())
            found += [_facts(incident, deliveries, drill) for incident in service.incidents()]
        return found


def _facts(incident: Any, deliveries: list[Any], drill: bool) -> IncidentFacts:
    updates = []
    for u in incident.updates:
        mine = [d for d in deliveries if d.incident == incident.id and d.seq == u.seq]
        shown = ", ".join(f"{sum(1 for d in mine if d.outcome == o)} {o}" for o in ("delivered", "failed", "withheld")
                          if any(d.outcome == o for d in mine))
        updates.append(UpdateFact(at=u.at, seq=u.seq, state=u.state, source=u.source,
                                  deliveries=f"deliveries: {shown}" if shown else ""))
    return IncidentFacts(id=incident.id, title=incident.title, impact=incident.impact,
                         components=tuple(incident.components), started_at=incident.started_at,
                         resolved_at=incident.resolved_at, drill=drill or incident.first.source == "drill",
                         updates=tuple(updates))
