"""Incidents as an append-only log of updates: what customers were told, when, and what was promised.

An update is never edited; a correction is a new update. The incident is a fold over its log,
so the page, the feed, the JSON and the cadence all read the same facts. Pure: no clock, no I/O.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, TypeAdapter

if TYPE_CHECKING:
    from outage.status.messages import DataLoss

State = Literal["investigating", "identified", "monitoring", "resolved"]
Impact = Literal["none", "minor", "major", "critical"]
Source = Literal["operator", "watch", "failover", "drill"]
STATES: tuple[State, ...] = ("investigating", "identified", "monitoring", "resolved")
IMPACTS: tuple[Impact, ...] = ("none", "minor", "major", "critical")


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() != timedelta(0):
        raise ValueError("expected a UTC time (ending in Z or +00:00)")
    return value.astimezone(UTC)


UtcTime = Annotated[datetime, AfterValidator(_utc)]


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Update(_Record):
    """One message to customers, as published; `seq` orders it within its incident."""

    kind: Literal["update"] = "update"
    incident: Annotated[str, Field(pattern=r"^[A-Za-z0-9-]{1,80}$")]
    seq: int = Field(ge=1)
    title: str = Field(min_length=1, max_length=200)
    state: State
    impact: Impact
    components: tuple[str, ...]
    at: UtcTime
    next_update_at: UtcTime | None  # None once resolved: no further update is promised
    message: str = Field(min_length=1, max_length=5000)
    language: str = "en"
    author: str = "crmdr"
    source: Source = "operator"
    started_at: UtcTime | None = None  # when the outage began, when it was measured (first failed probe)


class OverdueNote(_Record):
    """A promise of an update that was not kept, recorded once when noticed."""

    kind: Literal["overdue"] = "overdue"
    incident: str
    seq: int = Field(ge=1)
    promised_at: UtcTime  # the next_update_at that passed without an update
    noticed_at: UtcTime


Entry = Annotated[Update | OverdueNote, Field(discriminator="kind")]


ENTRY = TypeAdapter[Update | OverdueNote](Entry)


def parse_entry(data: bytes) -> Update | OverdueNote:
    """One stored log object; ValueError (pydantic's) when it is not an entry."""
    return ENTRY.validate_json(data)


@dataclass(frozen=True)
class Incident:
    """The fold of one incident's log: the current truth and every update in order."""

    id: str
    updates: tuple[Update, ...]
    overdue: tuple[OverdueNote, ...]

    @property
    def first(self) -> Update:
        return self.updates[0]

    @property
    def last(self) -> Update:
        return self.updates[-1]

    @property
    def title(self) -> str:
        return self.last.title

    @property
    def state(self) -> State:
        return self.last.state

    @property
    def impact(self) -> Impact:
        return self.last.impact

    @property
    def components(self) -> tuple[str, ...]:
        return self.last.components

    @property
    def created_at(self) -> datetime:
        return self.first.at

    @property
    def started_at(self) -> datetime:
        return self.first.started_at or self.first.at

    @property
    def resolved_at(self) -> datetime | None:
        return self.last.at if self.state == "resolved" else None

    @property
    def next_seq(self) -> int:
        return max([u.seq for u in self.updates] + [n.seq for n in self.overdue]) + 1

    def first_at(self, state: State) -> datetime | None:
        return next((u.at for u in self.updates if u.state == state), None)


def fold(entries: Iterable[Update | OverdueNote]) -> list[Incident]:
    """Group entries by incident, ordered by seq; incidents newest first (by creation)."""
    grouped: dict[str, list[Update | OverdueNote]] = {}
    for entry in entries:
        grouped.setdefault(entry.incident, []).append(entry)
    incidents = []
    for incident_id, items in grouped.items():
        items.sort(key=lambda e: e.seq)
        updates = tuple(e for e in items if isinstance(e, Update))
        if not updates:
            continue  # a note without its updates: nothing to show
        notes = tuple(e for e in items if isinstance(e, OverdueNote))
        incidents.append(Incident(incident_id, updates, notes))
    return sorted(incidents, key=lambda i: i.created_at, reverse=True)


def open_incidents(incidents: Sequence[Incident]) -> list[Incident]:
    return [i for i in incidents if i.state != "resolved"]


def transition_problem(incident: Incident | None, state: State) -> str | None:
    """Why an update in `state` cannot be appended, or None. Resolving is final: reopen = new incident."""
    if incident is None:
        return "no open incident to update (open one with `crmdr status open --title ...`)"
    if incident.state == "resolved":
        return f"incident {incident.id} is resolved; open a new incident instead"
    if state not in STATES:
        return f"expected a state among {', '.join(STATES)}, got '{state}'"
    return None


def new_incident_id(now: datetime, token: str) -> str:
    """Sortable and unique: `20260101T120000Z-1a2b`."""
    return f"{now.astimezone(UTC):%Y%m%dT%H%M%SZ}-{token}"


def in_history(incident: Incident, now: datetime, days: int = 90) -> bool:
    """Shown on the page: open, or resolved within the last `days`."""
    resolved = incident.resolved_at
    return resolved is None or now - resolved <= timedelta(days=days)


@dataclass(frozen=True)
class Draft:
    """What a person (or the watch) asks to say; the text comes from the templates unless verbatim."""

    state: State
    note: str | None = None
    verbatim: bool = False
    impact: Impact | None = None
    components: tuple[str, ...] = ()
    fix_time: datetime | None = None
    author: str = "crmdr"
    source: Source = "operator"
    started_at: datetime | None = None
    service_back_at: datetime | None = None
    data_loss: "DataLoss | None" = None
