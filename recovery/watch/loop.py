"""Running the health watch: probe every interval, declare an outage, optionally fail over.

The decision is recovery/watch/decide.py (pure); the probe is recovery/adapters/health_probe.py.
An outage is written to a journal of its own (`watch-...jsonl`, mirrored to the DR bucket)
and announced by a timestamped notice; when the watch fails over, that happens alongside the
runbook (which starts at once) and the failover carries the detection, so its `detect` phase
begins at the first failed probe.
"""

import logging
import threading
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from policies.errors import CheckFailed, DrError
from recovery.adapters.aws_session import client
from recovery.adapters.clock import SystemClock
from recovery.adapters.s3_store import S3ObjectStore
from recovery.adapters.sns_notifier import SnsNotifier
from recovery.inventory import Inventory
from recovery.runbooks.journal.files import Journal, new_run_id
from recovery.runbooks.run import Options, RunResult
from recovery.watch.decide import ANSWERING, Detection, ProbeResult, Verdict, WatchSettings, WatchState, observe

log = logging.getLogger(__name__)

Probe = Callable[[], ProbeResult]


def watch_until(probe: Probe, settings: WatchSettings, *, until: Callable[[Verdict], bool],
          report: Callable[[Verdict], None] = lambda verdict: None,
          stop: threading.Event | None = None) -> Verdict | None:
    """Probe every `settings.interval` until `until(verdict)` holds (returned) or `stop` is set (last verdict)."""
    clock, stop = SystemClock(), stop or threading.Event()
    state, verdict = WatchState(), None
    while not stop.is_set():
        began = clock.monotonic()
        verdict = observe(state, probe(), settings)
        state = verdict.state
        report(verdict)
        if until(verdict):
            return verdict
        stop.wait(max(0.0, settings.interval - (clock.monotonic() - began)))
    return verdict


def outage_journal(inventory: Inventory, journal_dir: Path, *, drill: bool = False) -> Journal:
    clock = SystemClock()
    return Journal(new_run_id(clock, "watch"), "watch", journal_dir, clock, mirror=S3ObjectStore(inventory),
                   drill=drill)


def declare_outage(inventory: Inventory, found: Detection, journal: Journal) -> Path:
    """Journal the outage (first failed probe -> declaration) and send a timestamped notice."""
    drill = journal.drill
    journal.record("probe", "started", phase="detect", at=(found.first_failure, found.first_failure_mono))
    journal.record("outage", "failed", phase="detect", reason=found.evidence, at=(found.declared, found.declared_mono))
    kind = "DRILL (not a real outage)" if drill else "OUTAGE"
    try:
        SnsNotifier(inventory).publish(
            f"{'[DRILL] ' if drill else ''}crmdr watch {inventory.stack}: primary down",
            f"{found.declared.isoformat(timespec='milliseconds')} {kind}\nstack {inventory.stack}: "
            f"{found.evidence}\nfirst failed probe {found.first_failure.isoformat(timespec='milliseconds')}\n"
            f"journal: {journal.path.name}")
    except DrError as err:
        log.warning("outage notice not sent: %s", err)
    return journal.path


def prepare_failover(inventory: Inventory) -> None:
    """Load the runbook and the AWS service models now, so an outage waits for neither (~0.3 s cold)."""
    import recovery.runbooks.failover  # noqa: F401

    for service in ("s3", "dynamodb", "sns", "route53"):
        client(inventory.aws, service, inventory.regions.dr)


def fail_over(inventory: Inventory, found: Detection, options: Options, journal: Journal) -> RunResult:
    """Start the failover runbook at once, with the detection as its detect phase; declare alongside."""
    from recovery.runbooks.failover import run_failover

    declaring = threading.Thread(target=declare_outage, args=(inventory, found, journal), name="crmdr-declare")
    declaring.start()
    try:
        return run_failover(inventory, replace(options, detection=found, confirm=None))
    finally:
        declaring.join()


class BackgroundWatch:
    """The watch in a thread, for a drill: start before the disruption, then wait for the outage.

    It stops by itself after `lifetime` seconds, so a drill that fails half-way leaves no probe behind.
    """

    def __init__(self, probe: Probe, settings: WatchSettings, lifetime: float) -> None:
        self._probe, self._settings, self._lifetime = probe, settings, lifetime
        self._stop = threading.Event()
        self._verdict: Verdict | None = None
        self._first_healthy = threading.Event()
        self._thread = threading.Thread(target=self._run, name="crmdr-watch", daemon=True)

    def _run(self) -> None:
        def seen(verdict: Verdict) -> None:
            if verdict.status in ANSWERING:
                self._first_healthy.set()

        clock = SystemClock()
        deadline = clock.monotonic() + self._lifetime
        self._verdict = watch_until(self._probe, self._settings, report=seen, stop=self._stop,
                              until=lambda v: v.status == "outage" or clock.monotonic() > deadline)

    def start(self, healthy_within: float) -> None:
        """Start probing; CheckFailed when no probe succeeds in time (nothing to detect from)."""
        self._thread.start()
        if not self._first_healthy.wait(healthy_within):
            self.stop()
            raise CheckFailed(f"the watch saw no healthy probe of the primary within {healthy_within:g}s")

    def detection(self, within: float) -> Detection:
        """The declared outage; CheckFailed when none is declared in time."""
        self._thread.join(within)
        self.stop()
        if self._verdict is None or self._verdict.detection is None:
            raise CheckFailed(f"the watch declared no outage within {within:g}s")
        return self._verdict.detection

    def stop(self) -> None:
        self._stop.set()
