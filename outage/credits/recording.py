"""The watch's availability recording: probe outcomes -> per-minute buckets -> the DR-region series.

Composition (a thread and a port), so the probe loop never waits on S3: `observe` only counts
and queues a finished minute; one background thread appends it. A failed append is retried
with the next minute and logged, never raised into the watch (detection comes first).
`close` hands out the open minute and waits for the writes.
"""

import logging
import queue
import threading
from datetime import datetime

from outage.credits.ports import AvailabilitySeries
from outage.credits.recorder import MinuteRecorder
from outage.credits.series import MinuteBucket
from policies.errors import DrError

log = logging.getLogger(__name__)
_STOP = None


class AvailabilityRecording:
    """Callable per probe: `recording(at, ok)`; thread-safe for one watch loop."""

    def __init__(self, series: AvailabilitySeries, component: str = "database") -> None:
        self._series = series
        self._recorder = MinuteRecorder(component)
        self._queue: queue.Queue[list[MinuteBucket] | None] = queue.Queue()
        self._pending: list[MinuteBucket] = []
        self.written = 0
        self.failures = 0
        self._thread = threading.Thread(target=self._run, name="availability-series", daemon=True)
        self._thread.start()

    def __call__(self, at: datetime, ok: bool) -> None:
        done = self._recorder.observe(at, ok)
        if done:
            self._queue.put(done)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            self._write(item)

    def _write(self, buckets: list[MinuteBucket]) -> None:
        batch = [*self._pending, *buckets]
        try:
            self._series.append(batch)
        except DrError as err:
            self.failures += 1
            self._pending = batch
            log.warning("availability series: %d minute(s) not written yet: %s", len(batch), err)
            return
        self._pending = []
        self.written += len(batch)

    def close(self, timeout: float = 30.0) -> None:
        """Write the open minute and whatever is queued; give up after `timeout` seconds (logged)."""
        last = self._recorder.flush()
        if last:
            self._queue.put(last)
        self._queue.put(_STOP)
        self._thread.join(timeout)
        if self._thread.is_alive():
            log.warning("availability series: writes still pending after %.0f s", timeout)
        elif self._pending:
            self._write([])
