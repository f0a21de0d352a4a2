"""The health watch's decision: consecutive failed probes of the primary become a declared outage. Pure.

A probe is one TCP connect + `SELECT 1` through the database's DNS name (the adapter in
recovery/adapters/health_probe.py). One failure is noise; `failures` in a row is an outage,
declared once, with the time of the first failure of the run: that span is the `detect`
phase of a failover the watch starts. A success after a declared outage is a recovery.
"""

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal

from policies.errors import ConfigError
from policies.sla import Tier

Status = Literal["healthy", "suspect", "outage", "down", "recovered"]


@dataclass(frozen=True)
class ProbeResult:
    """One probe: when it was sent (wall, monotonic), whether `SELECT 1` answered, and why not."""

    at: datetime
    mono: float
    ok: bool
    address: str | None
    detail: str


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

    def to_dict(self) -> dict[str, object]:
        probe = self.state.failed[-1] if self.state.failed else self.state.last_ok
        found: dict[str, object] = {"status": self.status, "reason": self.reason,
                                    "at": probe.at.isoformat(timespec="milliseconds") if probe else None,
                                    "consecutive_failures": len(self.state.failed)}
        if self.detection:
            found["detection_seconds"] = round(self.detection.seconds, 3)
            found["first_failure"] = self.detection.first_failure.isoformat(timespec="milliseconds")
        return found


def observe(state: WatchState, probe: ProbeResult, settings: WatchSettings) -> Verdict:
    """The verdict after one more probe; `outage` is returned once, on the Nth failure in a row."""
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
    if count < settings.failures:
        return Verdict("suspect", f"probe {count} of {settings.failures} failed: {probe.detail}",
                       replace(state, failed=failed))
    first = failed[0]
    reason = (f"outage declared: {count} consecutive probes failed over "
              f"{probe.mono - first.mono:.3f}s (last: {probe.detail})")
    detection = Detection(first.at, first.mono, probe.at, probe.mono, count, reason)
    return Verdict("outage", reason, WatchState(failed=failed, declared=True, last_ok=state.last_ok), detection)


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
