"""Each measured objective against its tier: pass or fail, and by how much. Pure.

The verdict's `detail` is the sentence an auditor reads ("RTO 3.2s > 1s by 2.2s"); a figure
that could not be measured is a failure with the reason, never a silent pass.
"""

from dataclasses import asdict, dataclass
from datetime import timedelta
from typing import Any, Literal

from drills.failover.measure import Measurement
from outage.status.automatic import FIRST_NOTICE_WITHIN
from policies.durations import format_duration
from policies.sla import Tier

Unit = Literal["seconds", "writes", "check"]


@dataclass(frozen=True)
class Objective:
    """One judged objective; `margin` > 0 means headroom, < 0 means breached by that much."""

    name: str
    unit: Unit
    measured: float | None
    limit: float | None
    passed: bool
    margin: float | None
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def seconds_text(seconds: float) -> str:
    """Human seconds: 0.163s, 3.2s, 5m, 1h2m3s."""
    if seconds < 60:
        return f"{seconds:.3g}s" if seconds < 10 else f"{seconds:.1f}s"
    whole = timedelta(seconds=round(seconds))
    hours, rest = divmod(int(whole.total_seconds()), 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{hours}h" if hours else "", f"{minutes}m" if minutes else "", f"{secs}s" if secs else ""]
    return "".join(parts) or "0s"


def within(name: str, measured: float | None, limit: timedelta, *, missing: str = "") -> Objective:
    """A duration that must not exceed the tier's limit."""
    bound = limit.total_seconds()
    shown = format_duration(limit)
    if measured is None:
        reason = missing or "not measured"
        return Objective(name, "seconds", None, bound, False, None, f"{name} not measured: {reason}")
    margin = bound - measured
    if margin >= 0:
        detail = f"{name} {seconds_text(measured)} <= {shown} ({seconds_text(margin)} to spare)"
    else:
        detail = f"{name} {seconds_text(measured)} > {shown} by {seconds_text(-margin)}"
    return Objective(name, "seconds", measured, bound, margin >= 0, margin, detail)


def at_most(name: str, measured: int, limit: int, *, what: str) -> Objective:
    """A count that must not exceed `limit` (lost acknowledged writes under synchronous replication)."""
    margin = float(limit - measured)
    if margin >= 0:
        detail = f"{name}: {measured} {what} (at most {limit} allowed)"
    else:
        detail = f"{name}: {measured} {what} > {limit} allowed by {-int(margin)}"
    return Objective(name, "writes", float(measured), float(limit), margin >= 0, margin, detail)


def check(name: str, failure: str | None, success: str = "passed") -> Objective:
    """A yes/no check; `failure` is the reason it failed, None when it passed."""
    if failure is None:
        return Objective(name, "check", None, None, True, None, f"{name}: {success}")
    return Objective(name, "check", None, None, False, None, f"{name}: {failure}")


def verdict(objectives: list[Objective]) -> tuple[bool, list[str]]:
    """Passed overall, and the failing objectives' sentences (the deviations)."""
    failures = [o.detail for o in objectives if not o.passed]
    return (bool(objectives) and not failures), failures


def failover_objectives(measurement: Measurement, tier: Tier) -> list[Objective]:
    """RTO and RPO of a failover drill; zero lost writes when the tier replicates synchronously."""
    judged = [
        within("RTO", measurement.rto_seconds, tier.rto,
               missing="no write was acknowledged after the disruption"),
        within("RPO", measurement.rpo_seconds, tier.rpo),
    ]
    if tier.synchronous_replication:
        judged.append(at_most("Lost acknowledged writes", len(measurement.lost_ids), 0,
                              what="acknowledged write(s) missing after recovery"))
    return judged


def backup_objectives(tier: Tier, reasons: list[str], point_age: float | None,
                      restore_seconds: float | None) -> list[Objective]:
    """Backup drills: integrity (and restore) proven, newest point fresh enough, restore within RTO.

    Freshness is judged against the larger of the RPO and the backup frequency: a tier whose RPO
    is shorter than its backup interval meets that RPO by replication, not by backups.
    """
    fresh = max(tier.rpo, tier.backup_frequency)
    restored = restore_seconds is not None
    judged = [
        check("Restore and validation" if restored else "Integrity", "; ".join(reasons) or None,
              "restored in isolation and validated" if restored else "every byte verified"),
        within("Recovery point age", point_age, fresh, missing="no recovery point found"),
    ]
    if restored:
        judged.append(within("Restore time (RTO)", restore_seconds, tier.rto, missing="restore did not finish"))
    return judged


def first_notice_objective(record: dict[str, Any]) -> list[Objective]:
    """Detection -> first customer notice within FIRST_NOTICE_WITHIN; none when the tier leaves it to people."""
    if not record.get("automatic"):
        return []
    limit = timedelta(seconds=FIRST_NOTICE_WITHIN)
    errors = "; ".join(record.get("errors") or []) or "no notice was published"
    return [within("First customer notice", record.get("first_notice_seconds"), limit, missing=errors)]
