"""What the review reads and where it publishes, as Protocols; adapters in outage/adapters/, drills/."""

from collections.abc import Mapping
from pathlib import Path
from typing import Protocol

from outage.credits.ports import JournalSource
from outage.review.build import IncidentFacts, IntakeFacts, ProbeMeasurement
from outage.review.model import ChainLink, IncidentReview, Signing

__all__ = ["IncidentSource", "IntakeSource", "JournalSource", "ProbeSource", "Publisher"]


class IncidentSource(Protocol):
    """Incidents and their customer updates (the status log in the DR region)."""

    def incidents(self) -> list[IncidentFacts]: ...


class IntakeSource(Protocol):
    """The downtime intake's record of one incident, or None when it kept none."""

    def facts(self, incident: IncidentFacts) -> IntakeFacts | None: ...


class ProbeSource(Protocol):
    """A drill's write-probe measurement covering the incident, or None."""

    def measurement(self, incident: IncidentFacts) -> ProbeMeasurement | None: ...


class Publisher(Protocol):
    """Signs and chains a review next to the drill reports' layout; returns the report's directory."""

    def head(self) -> ChainLink: ...

    def signing(self) -> Signing: ...

    def publish(self, review: IncidentReview, renderings: Mapping[str, bytes]) -> Path: ...

    def reviews(self) -> list[IncidentReview]: ...
