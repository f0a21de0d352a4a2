"""RTO and RPO as a client felt them, computed from the write probe's ledger. Pure.

RTO is the time from the disruption to the first acknowledged write that was *sent after
the disruption took effect* (a write the dying primary acknowledged in its last 100 ms
proves nothing about recovery). RPO is counted: acknowledged writes that are missing after
recovery, their ids, and the data-loss window from the oldest lost write to the failure.
"""

from dataclasses import dataclass, field
from typing import Literal

Outcome = Literal["acknowledged", "failed", "unknown"]


@dataclass(frozen=True)
class Write:
    """One probe attempt; monotonic times for durations, wall time for the report."""

    id: int
    outcome: Outcome
    sent_wall: float
    sent_mono: float
    done_mono: float
    address: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class Disruption:
    """When the disruption started and when it was confirmed in effect (both monotonic)."""

    started_mono: float
    started_wall: float
    effective_mono: float

    def __post_init__(self) -> None:
        if self.effective_mono < self.started_mono:
            raise ValueError("a disruption cannot take effect before it started")


@dataclass(frozen=True)
class Measurement:
    """What the ledger says; `rto_seconds` is None when no write succeeded after the disruption."""

    rto_seconds: float | None
    rpo_seconds: float
    lost_ids: tuple[int, ...]
    oldest_lost_age_seconds: float | None
    acknowledged: int
    failed: int
    unknown: int
    unknown_committed: int
    failed_but_committed: tuple[int, ...]
    first_ack_after: int | None
    last_ack_before: int | None
    addresses: tuple[str, ...] = field(default=())
    writes_during_disruption: int = 0

    @property
    def recovered(self) -> bool:
        return self.rto_seconds is not None

    def as_dict(self) -> dict[str, object]:
        return {
            "rto_seconds": self.rto_seconds, "rpo_seconds": self.rpo_seconds,
            "lost_writes": len(self.lost_ids), "lost_ids": list(self.lost_ids),
            "oldest_lost_age_seconds": self.oldest_lost_age_seconds,
            "acknowledged": self.acknowledged, "failed": self.failed, "unknown": self.unknown,
            "unknown_committed": self.unknown_committed,
            "failed_but_committed": list(self.failed_but_committed),
            "first_ack_after_disruption": self.first_ack_after,
            "last_ack_before_disruption": self.last_ack_before,
            "addresses": list(self.addresses),
            "writes_during_disruption": self.writes_during_disruption,
        }


def measure(ledger: tuple[Write, ...] | list[Write], found_ids: frozenset[int] | set[int],
            disruption: Disruption) -> Measurement:
    """RTO and RPO from a ledger, the ids present after recovery, and the disruption."""
    writes = sorted(ledger, key=lambda w: w.sent_mono)
    acked = [w for w in writes if w.outcome == "acknowledged"]
    after = [w for w in acked if w.sent_mono >= disruption.effective_mono]
    first = min(after, key=lambda w: w.done_mono, default=None)
    before = [w for w in acked if w.done_mono <= disruption.started_mono]
    lost = [w for w in acked if w.id not in found_ids]
    loss_window, oldest_age = 0.0, None
    if lost:
        oldest = min(lost, key=lambda w: w.done_mono)
        end = max(disruption.effective_mono, *(w.done_mono for w in lost))
        loss_window = end - oldest.done_mono
        oldest_age = max(0.0, disruption.started_mono - oldest.done_mono)
    addresses: list[str] = []
    for write in writes:
        if write.address and (not addresses or addresses[-1] != write.address):
            addresses.append(write.address)
    return Measurement(
        rto_seconds=None if first is None else first.done_mono - disruption.started_mono,
        rpo_seconds=loss_window,
        lost_ids=tuple(sorted(w.id for w in lost)),
        oldest_lost_age_seconds=oldest_age,
        acknowledged=len(acked),
        failed=sum(1 for w in writes if w.outcome == "failed"),
        unknown=sum(1 for w in writes if w.outcome == "unknown"),
        unknown_committed=sum(1 for w in writes if w.outcome == "unknown" and w.id in found_ids),
        failed_but_committed=tuple(w.id for w in writes if w.outcome == "failed" and w.id in found_ids),
        first_ack_after=None if first is None else first.id,
        last_ack_before=before[-1].id if before else None,
        addresses=tuple(addresses),
        writes_during_disruption=sum(
            1 for w in acked if disruption.started_mono <= w.sent_mono < disruption.effective_mono
        ),
    )
