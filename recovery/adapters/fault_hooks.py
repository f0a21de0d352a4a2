"""A pause point for fault-injection tests: inject a fault at an exact moment, not a sleep guess.

`CRMDR_TEST_PAUSE_AT=POINT:FILE` makes the process, the first time it reaches POINT, create
`FILE.reached` and wait until FILE exists (at most PAUSE_LIMIT_SECONDS). A test waits for the
marker, cuts the network, then creates FILE. Unset (always, outside tests), it does nothing.
"""

import logging
import os
import threading
from pathlib import Path

from recovery.ports import Readable

log = logging.getLogger(__name__)

PAUSE_LIMIT_SECONDS = 120
_reached: set[str] = set()


def pause(point: str) -> None:
    name, _, file = os.environ.get("CRMDR_TEST_PAUSE_AT", "").partition(":")
    if name != point or not file or point in _reached:
        return
    _reached.add(point)
    log.warning("test hook: paused at %s until %s exists", point, file)
    Path(f"{file}.reached").touch()
    waiter = threading.Event()
    for _ in range(PAUSE_LIMIT_SECONDS * 20):
        if Path(file).exists():
            return
        waiter.wait(0.05)


class PausedReader:
    """A stream that pauses at `point` once more than `after` bytes were read (the transfer is under way)."""

    def __init__(self, source: Readable, point: str, after: int = 0) -> None:
        self._source, self._point, self._after, self._read = source, point, after, 0

    def read(self, size: int = -1) -> bytes:
        data = self._source.read(size)
        self._read += len(data)
        if self._read > self._after:
            pause(self._point)
        return data
