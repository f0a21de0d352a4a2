"""The health watch's decision: consecutive failed probes of the primary become a declared outage. Pure.

A probe is what an application does: resolve the database name through DNS (the data plane),
then TCP connect + `SELECT 1` at the address (the adapter in recovery/adapters/health_probe.py).
Only a failure of the database at that address counts: one is noise; `failures` in a row is an
outage, declared once, with the time of the first failure of the run: that span is the `detect`
phase of a failover the watch starts. A success after a declared outage is a recovery.

A second, independent signal confirms sooner: after a failed probe the watch asks the standby whether
its WAL receiver still streams from the primary. When the standby lost it too at each of the last
`CORROBORATED_FAILURES` failed probes (one interval apart), the outage is declared then, without
waiting for the rest of the `failures`: two witnesses on two paths saw the primary gone. A single
failure is never an outage, and while the standby still streams (a blip on the watch's own path,
a cut only the standby does not see) or cannot be read, the full count is needed.

Two failures are states of their own, never an outage of the database and never a reason to
fail over: the name cannot be resolved (`dns unreachable`: the database was not reached, so
nothing is known of it), and the AWS API (Route 53, the control plane) does not answer while
the database does (`control plane unreachable`: a failover could not run now).
"""

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal

from policies.errors import ConfigError
from policies.sla import Tier

CORROBORATED_FAILURES = 2
"""Failed probes in a row, each with the standby's receiver having lost the primary, that declare an outage."""

Status = Literal["healthy", "suspect", "outage", "down", "recovered", "dns unreachable",
                 "control plane unreachable"]
Stage = Literal["dns", "database"]
ANSWERING: frozenset[Status] = frozenset({"healthy", "recovered", "control plane unreachable"})
"""The statuses in which the database answered at the address applications reach."""


@dataclass(frozen=True)
class ProbeResult:
    """One probe: when it was sent (wall, monotonic), whether `SELECT 1` answered, and why not."""

    at: datetime
    mono: float
    ok: bool
    address: str | None
    detail: str
    failed_at: Stage = "database"
    """Where a failed probe failed: resolving the name, or at the address it resolved to."""
    control_plane: str | None = None
    """Why the AWS API did not answer at its last check; None when it answered."""
    standby_lost: bool | None = None
    """After a failed probe: the standby's WAL receiver no longer streams from the primary (True), still
    streams (False), or could not be read (None: no evidence either way)."""


@dataclass(frozen=True)
class WatchSettings:
    interval: float
    failures: int
    timeout: float


@dataclass(frozen=True)
class Detection:
    """A declared outage: from the first failed probe of the run to the declaration."""

    first_failure: datetime
    first_failure_mono: float
    declared: datetime
    declared_mono: float
    failures: int
    evidence: str

    @property
    def seconds(self) -> float:
        return self.declared_mono - self.first_failure_mono


@dataclass(frozen=True)
class WatchState:
    failed: tuple[ProbeResult, ...] = ()
    declared: bool = False
    last_ok: ProbeResult | None = None


@dataclass(frozen=True)
class Verdict:
    status: Status
    reason: str
    state: WatchState
    detection: Detection | None = None
    probe: ProbeResult | None = None

    def to_dict(self) -> dict[str, object]:
        probe = self.probe or (self.state.failed[-1] if self.state.failed else self.state.last_ok)
        found: dict[str, object] = {"status": self.status, "reason": self.reason,
                                    "at": probe.at.isoformat(timespec="milliseconds") if probe else None,
                                    "consecutive_failures": len(self.state.failed)}
        if probe:
            found["control_plane"] = "unreachable" if probe.control_plane else "reachable"
            if probe.control_plane:
                found["control_plane_error"] = probe.control_plane
        if self.detection:
            found["detection_seconds"] = round(self.detection.seconds, 3)
            found["first_failure"] = self.detection.first_failure.isoformat(timespec="milliseconds")
        return found


def observe(state: WatchState, probe: ProbeResult, settings: WatchSettings) -> Verdict:
    """The verdict after one more probe; `outage` is returned once, on the Nth database failure in a row."""
    if not probe.ok and probe.failed_at == "dns":
        return Verdict("dns unreachable", f"{probe.detail}; the database was not reached, so this is no outage of it",
                       state, probe=probe)
    verdict = replace(_database_verdict(state, probe, settings), probe=probe)
    if not probe.control_plane:
        return verdict
    if verdict.status == "healthy":
        return replace(verdict, status="control plane unreachable",
                       reason=f"{verdict.reason}; the AWS API does not answer ({probe.control_plane}): "
                              "no outage of the database, and a failover could not run now")
    return replace(verdict, reason=f"{verdict.reason}; the AWS API does not answer either ({probe.control_plane})")


def _database_verdict(state: WatchState, probe: ProbeResult, settings: WatchSettings) -> Verdict:
    if probe.ok:
        after = WatchState(last_ok=probe)
        if state.declared:
            return Verdict("recovered", f"{probe.address} answers again after a declared outage", after)
        return Verdict("healthy", f"{probe.address}: {probe.detail}", after)
    failed = (*state.failed, probe)
    count = len(failed)
    if state.declared:
        return Verdict("down", f"still down ({count} failed probes): {probe.detail}",
                       replace(state, failed=failed))
    corroborated = _corroborated(failed)
    if count < settings.failures and not corroborated:
        return Verdict("suspect", f"probe {count} of {settings.failures} failed: {probe.detail}"
                       + ("; the standby still streams from the primary" if probe.standby_lost is False else ""),
                       replace(state, failed=failed))
    first = failed[0]
    reason = (f"outage declared: {count} consecutive probes failed at {probe.address} over "
              f"{probe.mono - first.mono:.3f}s (last: {probe.detail})"
              + ("; the standby's WAL receiver lost the primary at each of the last "
                 f"{CORROBORATED_FAILURES}" if corroborated else ""))
    detection = Detection(first.at, first.mono, probe.at, probe.mono, count, reason)
    return Verdict("outage", reason, WatchState(failed=failed, declared=True, last_ok=state.last_ok), detection)


def _corroborated(failed: tuple[ProbeResult, ...]) -> bool:
    """The last CORROBORATED_FAILURES failed probes each saw the standby's receiver without the primary."""
    last = failed[-CORROBORATED_FAILURES:]
    return len(last) == CORROBORATED_FAILURES and all(p.standby_lost is True for p in last)


def watch_settings(tier: Tier, *, interval: float | None = None, failures: int | None = None,
                   timeout: float | None = None) -> WatchSettings:
    """Command-line values over the tier's; a probe never outlives its interval by default."""
    chosen = WatchSettings(
        interval=tier.watch_interval.total_seconds() if interval is None else interval,
        failures=tier.watch_failures if failures is None else failures,
        timeout=0.0 if timeout is None else timeout,
    )
    if chosen.interval <= 0:
        raise ConfigError(f"--interval: expected a duration above zero, got {chosen.interval:g}s")
    if chosen.failures < 1:
        raise ConfigError(f"--failures: expected at least 1, got {chosen.failures}")
    if timeout is not None and timeout <= 0:
        raise ConfigError(f"--timeout: expected a duration above zero, got {timeout:g}s")
    return replace(chosen, timeout=chosen.timeout or min(1.0, max(chosen.interval, 0.2)))


def failover_limitation(tier_name: str, tier: Tier) -> str | None:
    """Why the watch may not start a failover on its own under this tier, or None."""
    if tier.automatic_failover:
        return None
    return (f"refusing --failover: tier '{tier_name}' does not allow automatic failover "
            "(automatic_failover: false in the policy); watch without --failover, or allow it in the policy")
