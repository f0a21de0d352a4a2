"""What a person sees while a runbook runs: each step's line with its duration, and a line every
two seconds while one step takes longer (a rebuild, a wait for streaming), so silence never
looks like a hang."""

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from recovery.ports import Clock

EVERY_SECONDS = 2.0


class StepProgress:
    """Step durations from the clock; a background line for a step running past EVERY_SECONDS."""

    def __init__(self, clock: Clock, report: Callable[[str], None]) -> None:
        self._clock, self._report = clock, report
        self._since = clock.monotonic()

    def finished(self, step: str, status: str) -> str:
        """`fence: succeeded (0.2 s)`: the time since the previous step finished (this one's run)."""
        now = self._clock.monotonic()
        took, self._since = now - self._since, now
        return f"{step}: {status} ({took:.1f} s)"

    @contextmanager
    def watching(self, current: Callable[[], str]) -> Iterator[None]:
        """While the block runs, say which step is still running, every EVERY_SECONDS."""
        stop = threading.Event()

        def loop() -> None:
            while not stop.wait(EVERY_SECONDS):
                running = self._clock.monotonic() - self._since
                if current() and running >= EVERY_SECONDS:
                    self._report(f"{current()}: running ({running:.0f} s)")

        thread = threading.Thread(target=loop, name="crmdr-step-progress", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join(timeout=5)
