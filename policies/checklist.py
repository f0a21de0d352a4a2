"""The people's outage to-do list: typed, line-aware loading and a pure view over confirmations.

The steps live in `policies/outage-checklist.yaml` (or a file of the operator's); who did a step
and when is journalled, not stored here. `progress` judges each step against its `within`
target from detection, for the checklist itself and for drill reports.
"""

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from policies.documents import load_shipped_or
from policies.durations import Duration
from policies.errors import ConfigError

DEFAULT_FILE = "outage-checklist.yaml"


class ChecklistItem(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")]
    en: Annotated[str, Field(min_length=1)]
    de: Annotated[str, Field(min_length=1)]
    within: Duration | None = None  # a target from detection, or None (an ongoing duty)

    def text(self, language: str) -> str:
        return self.de if language == "de" else self.en


class Checklist(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    version: Literal[1] = 1
    items: list[ChecklistItem] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_ids(self) -> "Checklist":
        seen: set[str] = set()
        for item in self.items:
            if item.id in seen:
                raise ValueError(f"expected unique item ids, '{item.id}' appears twice")
            seen.add(item.id)
        return self

    def item(self, item_id: str) -> ChecklistItem:
        for item in self.items:
            if item.id == item_id:
                return item
        raise ConfigError(f"checklist item '{item_id}': expected one of {', '.join(i.id for i in self.items)}")


def load_checklist(path: Path | None = None) -> Checklist:
    """The given file, else the shipped one."""
    return load_shipped_or(path, DEFAULT_FILE, Checklist, what="checklist")


@dataclass(frozen=True)
class Confirmation:
    item: str
    by: str
    at: datetime


@dataclass(frozen=True)
class Step:
    """One item as it stands: confirmed by whom and when, and against its target."""

    item: ChecklistItem
    confirmed: Confirmation | None
    due_at: datetime | None
    late: bool

    def to_dict(self, language: str, started: datetime | None) -> dict[str, object]:
        done = self.confirmed
        return {"id": self.item.id, "text": self.item.text(language),
                "within_seconds": self.item.within.total_seconds() if self.item.within else None,
                "due_at": self.due_at.isoformat() if self.due_at else None,
                "confirmed_by": done.by if done else None, "confirmed_at": done.at.isoformat() if done else None,
                "after_detection_seconds": (done.at - started).total_seconds() if done and started else None,
                "late": self.late}


def progress(checklist: Checklist, confirmations: list[Confirmation], started: datetime | None,
             now: datetime) -> list[Step]:
    """Each step with its first confirmation; late when past `within` of detection unconfirmed, or done late."""
    first: dict[str, Confirmation] = {}
    for confirmation in sorted(confirmations, key=lambda c: c.at):
        first.setdefault(confirmation.item, confirmation)
    steps = []
    for item in checklist.items:
        done = first.get(item.id)
        due_at = started + item.within if started and item.within is not None else None
        finished = done.at if done else now
        steps.append(Step(item, done, due_at, late=due_at is not None and finished > due_at))
    return steps


def late_steps(steps: list[Step]) -> list[str]:
    return [s.item.id for s in steps if s.late]


