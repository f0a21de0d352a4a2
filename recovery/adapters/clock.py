"""The wall and monotonic clocks, behind a tiny port so runbook code never reads time itself."""

import time
from datetime import UTC, datetime


class SystemClock:
    """Wall clock in UTC for records, monotonic seconds for durations."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()
