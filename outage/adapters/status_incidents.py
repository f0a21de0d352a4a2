"""Incidents from the status log (outage/status, the DR-region bucket), as the review needs them.

Reads the append-only log through the status package's store adapter and folds it with its
pure model, for the public log and the drill log (a drill's incident is reviewed like any
other, marked as a drill). Kept: times, states, sources and delivery counts; no addresses.
"""

import json
from typing import Any

from outage.review.build import IncidentFacts, UpdateFact
from policies.errors import ConfigError
from recovery.inventory import Inventory


class StatusLogIncidents:
    """IncidentSource over the status log in the DR region (public and drill)."""

    def __init__(self, inventory: Inventory) -> None:
        import importlib.util

        if inventory.status is None or not getattr(inventory.status, "bucket", None):
            raise ConfigError("inventory: field 'status' (url, bucket): expected the status page whose log holds "
                              "the incidents to review")
        if importlib.util.find_spec("outage.adapters.s3_status") is None:
            raise ConfigError("the status package (outage/status, issue 13) is not installed: no incident log to read")
        self._inventory = inventory

    def incidents(self) -> list[IncidentFacts]:
        from outage.adapters.s3_status import DELIVERIES, LOG, S3StatusStore
        from outage.status.model import fold, parse_entry

        found: list[IncidentFacts] = []
        for drill in (False, True):
            store: Any = S3StatusStore(self._inventory, drill=drill)
            entries = []
            for data in store.read_all(LOG):
                try:
                    entries.append(parse_entry(data))
                except ValueError:
                    continue  # not an entry: the status package logs and skips it too
            deliveries = [json.loads(data) for data in store.read_all(DELIVERIES)]
            found += [_facts(incident, deliveries, drill) for incident in fold(entries)]
        return found


def _facts(incident: Any, deliveries: list[dict[str, Any]], drill: bool) -> IncidentFacts:
    updates = []
    for u in incident.updates:
        mine = [d for d in deliveries if d.get("incident") == incident.id and d.get("seq") == u.seq]
        counts = {o: sum(1 for d in mine if d.get("outcome") == o) for o in ("delivered", "failed", "withheld")}
        shown = ", ".join(f"{n} {o}" for o, n in counts.items() if n)
        updates.append(UpdateFact(at=u.at, seq=u.seq, state=u.state, source=u.source,
                                  deliveries=f"deliveries: {shown}" if shown else ""))
    return IncidentFacts(id=incident.id, title=incident.title, impact=incident.impact,
                         components=tuple(incident.components), started_at=incident.started_at,
                         resolved_at=incident.resolved_at, drill=drill or incident.first.source == "drill",
                         updates=tuple(updates))
