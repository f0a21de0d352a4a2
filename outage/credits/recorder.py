"""Folds a watch's probe outcomes into per-minute buckets as they come. Pure (the time is the probe's).

The watch calls `observe` after each probe; a minute is handed out once the first probe of a
later minute arrives (it can no longer change), and `flush` hands out the open one at the end.
"""

from datetime import datetime

from outage.credits.series import MinuteBucket, minute_of


class MinuteRecorder:
    def __init__(self, component: str = "database") -> None:
        self.component = component
        self._minute: datetime | None = None
        self._ok = 0
        self._failed = 0

    def observe(self, at: datetime, ok: bool) -> list[MinuteBucket]:
        """Count one probe; the buckets of minutes that are now complete (zero or one)."""
        minute = minute_of(at)
        done = self.flush() if self._minute is not None and minute > self._minute else []
        if self._minute is None or minute > self._minute:
            self._minute = minute
        if ok:
            self._ok += 1
        else:
            self._failed += 1
        return done

    def flush(self) -> list[MinuteBucket]:
        """The open minute's bucket (if any probe fell in it), and start afresh."""
        if self._minute is None or not self._ok + self._failed:
            return []
        bucket = MinuteBucket(self.component, self._minute, self._ok, self._failed)
        self._ok = self._failed = 0
        return [bucket]
