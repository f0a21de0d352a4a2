"""When the next update is due, and whether a promise was broken: decisions over `now`.

The tier's `status_notice_every` is the cadence; each update promises the next one at
`at + cadence`. A reminder goes to operators a little before that time (a fifth of the
cadence, at most five minutes), so the update is written before customers wait for it.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from outage.status.model import Incident

REMIND_AT_MOST = timedelta(minutes=5)


@dataclass(frozen=True)
class Due:
    """The cadence's verdict for one incident at `now`."""

    incident: str
    due_at: datetime | None  # None: resolved, nothing promised
    overdue_since: datetime | None
    remind: bool  # due soon: tell the operators now
    already_noted: bool  # the overdue promise is already in the log

    @property
    def overdue(self) -> bool:
        return self.overdue_since is not None

    def reason(self) -> str:
        """The sentence operators read."""
        if self.due_at is None:
            return f"incident {self.incident}: resolved, no update due"
        stamp = self.due_at.isoformat().replace("+00:00", "Z")
        if self.overdue_since is not None:
            return f"incident {self.incident}: an update is overdue since {stamp}"
        if self.remind:
            return f"incident {self.incident}: the next update is due at {stamp} (soon)"
        return f"incident {self.incident}: the next update is due at {stamp}"


def next_update_at(at: datetime, cadence: timedelta) -> datetime:
    return at + cadence


def reminder_lead(cadence: timedelta) -> timedelta:
    return min(cadence / 5, REMIND_AT_MOST)


def due(incident: Incident, now: datetime, cadence: timedelta) -> Due:
    """Overdue once `now` passes the last promise; a reminder within `reminder_lead` of it."""
    promised = incident.last.next_update_at
    if incident.state == "resolved" or promised is None:
        return Due(incident.id, None, None, remind=False, already_noted=False)
    noted = any(note.promised_at == promised for note in incident.overdue)
    if now > promised:
        return Due(incident.id, promised, promised, remind=True, already_noted=noted)
    return Due(incident.id, promised, None, remind=now >= promised - reminder_lead(cadence), already_noted=False)


@dataclass(frozen=True)
class PromiseRecord:
    """One promise of an update and whether it was kept (for reports)."""

    promised_at: datetime
    kept_at: datetime | None  # the next update's time when it came by the promise
    late_by: timedelta | None  # how late the next update came, or None when kept / still pending

    def to_dict(self) -> dict[str, object]:
        return {"promised_at": self.promised_at.isoformat(), "kept": self.kept_at is not None,
                "kept_at": self.kept_at.isoformat() if self.kept_at else None,
                "late_seconds": self.late_by.total_seconds() if self.late_by is not None else None}


def promises(incident: Incident, now: datetime) -> list[PromiseRecord]:
    """Each promised next update: kept (came in time), missed (came late or not yet past due)."""
    records = []
    updates = incident.updates
    for index, update in enumerate(updates):
        promised = update.next_update_at
        if promised is None:
            continue
        following = updates[index + 1].at if index + 1 < len(updates) else None
        if following is not None and following <= promised:
            records.append(PromiseRecord(promised, following, None))
        elif following is not None:
            records.append(PromiseRecord(promised, None, following - promised))
        elif now > promised:
            records.append(PromiseRecord(promised, None, now - promised))
    return records
