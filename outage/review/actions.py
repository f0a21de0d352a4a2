"""Corrective actions across reviews: which are open, which are overdue. Pure (`today` is a parameter)."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from outage.review.notes import ActionNote, ReviewNotes


@dataclass(frozen=True)
class OpenAction:
    incident: str
    action: ActionNote
    overdue_days: int  # 0 when not overdue

    def to_dict(self) -> dict[str, object]:
        return {"incident": self.incident, "id": self.action.id, "action": self.action.action,
                "owner": self.action.owner, "due": self.action.due.isoformat(), "overdue": self.overdue_days > 0,
                "overdue_days": self.overdue_days}


def open_actions(notes: Iterable[ReviewNotes], today: date) -> list[OpenAction]:
    """Every open action, the most overdue first; an action is overdue the day after its due date."""
    found = [OpenAction(n.incident, a, max(0, (today - a.due).days)) for n in notes for a in n.actions
             if a.status == "open"]
    return sorted(found, key=lambda o: (-o.overdue_days, o.action.due, o.incident, o.action.id))


def overdue_reason(actions: Iterable[OpenAction]) -> str | None:
    """Why `crmdr incident actions` fails, or None when no open action is past its due date."""
    late = [a for a in actions if a.overdue_days > 0]
    if not late:
        return None
    first = late[0]
    return (f"{len(late)} corrective action(s) overdue; the oldest: {first.incident}/{first.action.id} "
            f"owned by {first.action.owner}, due {first.action.due.isoformat()} ({first.overdue_days} day(s) ago)")
