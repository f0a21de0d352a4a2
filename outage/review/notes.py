"""What people enter for a review: root cause, contributing factors, corrective actions, checklist changes.

One YAML file per incident (`.crmdr/incidents/<ID>.yaml` by default), validated like the
policies: every error names the file, the line and the field. Closing an action is an edit
of this file (`status: done`, `closed: YYYY-MM-DD`); the next review records it.
"""

from datetime import date
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from policies.documents import load_document

Text = Annotated[str, Field(min_length=1, max_length=4000)]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ActionNote(_Model):
    id: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,40}$")]
    action: Text
    owner: Annotated[str, Field(min_length=1, max_length=200)]
    due: date
    status: Literal["open", "done"] = "open"
    closed: date | None = None

    @model_validator(mode="after")
    def _closed_when_done(self) -> "ActionNote":
        if self.status == "done" and self.closed is None:
            raise ValueError("expected `closed: YYYY-MM-DD` for an action that is done")
        if self.status == "open" and self.closed is not None:
            raise ValueError("expected no `closed` date on an open action (set status: done)")
        return self


class ReviewNotes(_Model):
    incident: Annotated[str, Field(min_length=1, max_length=80)]
    root_cause: Text
    contributing_factors: list[Text] = Field(default_factory=list)
    actions: list[ActionNote] = Field(default_factory=list)
    checklist_changes: list[Text] = Field(default_factory=list)
    entered_by: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_action_ids(self) -> "ReviewNotes":
        ids = [a.id for a in self.actions]
        duplicate = next((i for i in ids if ids.count(i) > 1), None)
        if duplicate:
            raise ValueError(f"expected unique action ids, '{duplicate}' appears twice")
        return self


def load_notes(path: Path) -> ReviewNotes:
    return load_document(path, ReviewNotes, what="incident review notes")
