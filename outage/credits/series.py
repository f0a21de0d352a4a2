"""Availability as a compact time series: per minute and component, how many probes passed and failed.

The watch folds its probe outcomes into one `MinuteBucket` per (component, minute); a month of
them is at most 44,640 small records per component. Which minutes are *down* is decided here,
from the buckets and from declared outage spans (the watch stops probing once it fails over, so
the span from declaration to validated recovery comes from the incident and the journal). Pure.
"""

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from policies.credits import DowntimeMinute
from policies.errors import ConfigError

MINUTE = timedelta(minutes=1)
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


@dataclass(frozen=True, order=True)
class Month:
    """A calendar month in UTC."""

    year: int
    month: int

    @classmethod
    def parse(cls, text: str, *, what: str = "--month") -> "Month":
        match = _MONTH.match(text.strip())
        if not match or not 1 <= int(match.group(2)) <= 12 or int(match.group(1)) < 1970:
            raise ConfigError(f"{what}: expected a month as YYYY-MM (e.g. 2026-11), got {text!r}")
        return cls(int(match.group(1)), int(match.group(2)))

    @classmethod
    def of(cls, moment: datetime) -> "Month":
        moment = moment.astimezone(UTC)
        return cls(moment.year, moment.month)

    @property
    def start(self) -> datetime:
        return datetime(self.year, self.month, 1, tzinfo=UTC)

    @property
    def end(self) -> datetime:
        return self.next().start

    def next(self) -> "Month":
        return Month(self.year + self.month // 12, self.month % 12 + 1)

    @property
    def minutes(self) -> int:
        return int((self.end - self.start) / MINUTE)

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"


@dataclass(frozen=True)
class MinuteBucket:
    """Probe outcomes of one component in the minute starting at `minute` (UTC, seconds zero)."""

    component: str
    minute: datetime
    ok: int
    failed: int

    def to_dict(self) -> dict[str, object]:
        return {"component": self.component, "minute": self.minute.strftime("%Y-%m-%dT%H:%MZ"),
                "ok": self.ok, "failed": self.failed}

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> "MinuteBucket":
        """From a stored line; ValueError names what is wrong (the adapter adds the object's key)."""
        minute = datetime.strptime(str(data["minute"]), "%Y-%m-%dT%H:%MZ").replace(tzinfo=UTC)
        ok, failed = data["ok"], data["failed"]
        if not isinstance(ok, int) or not isinstance(failed, int) or ok < 0 or failed < 0:
            raise ValueError("expected counts ok and failed of zero or more")
        return cls(str(data["component"]), minute, ok, failed)


@dataclass(frozen=True)
class Span:
    """A declared outage of some components, [start, end); `source` says who declared it."""

    start: datetime
    end: datetime
    components: frozenset[str]
    source: str


def minute_of(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(second=0, microsecond=0)


def bucket_probes(component: str, outcomes: Iterable[tuple[datetime, bool]]) -> list[MinuteBucket]:
    """Fold (time, ok) probe outcomes into per-minute buckets, oldest first."""
    counts: dict[datetime, list[int]] = {}
    for at, ok in outcomes:
        pair = counts.setdefault(minute_of(at), [0, 0])
        pair[0 if ok else 1] += 1
    return [MinuteBucket(component, minute, ok, failed) for minute, (ok, failed) in sorted(counts.items())]


def merge(buckets: Iterable[MinuteBucket]) -> dict[tuple[str, datetime], MinuteBucket]:
    """Buckets of several writers (two watches, a restarted one) summed per component and minute."""
    merged: dict[tuple[str, datetime], MinuteBucket] = {}
    for bucket in buckets:
        key = (bucket.component, bucket.minute)
        seen = merged.get(key)
        merged[key] = bucket if seen is None else MinuteBucket(
            bucket.component, bucket.minute, seen.ok + bucket.ok, seen.failed + bucket.failed)
    return merged


def bucket_down(bucket: MinuteBucket, rule: DowntimeMinute) -> bool | None:
    """True/False for a measured minute; None when it had fewer valid probes than the rule needs."""
    total = bucket.ok + bucket.failed
    if total < rule.minimum_probes:
        return None
    return Decimal(bucket.failed) * 100 >= rule.failed_share * total


def span_minutes(span: Span, month: "Month", rule: DowntimeMinute) -> set[datetime]:
    """Minutes of `month` that the span covers for at least the rule's share of the minute."""
    start, end = max(span.start, month.start), min(span.end, month.end)
    found: set[datetime] = set()
    minute = minute_of(start)
    while minute < end:
        covered = min(end, minute + MINUTE) - max(start, minute)
        if Decimal(covered.total_seconds()) * 100 >= rule.failed_share * 60:
            found.add(minute)
        minute += MINUTE
    return found


@dataclass(frozen=True)
class ComponentMonth:
    """One component's month: which minutes were down, and how many were measured at all."""

    component: str
    down: frozenset[datetime]
    measured: int
    unmeasured_down: int  # minutes nobody measured, counted down because the rule says so


def component_months(buckets: Iterable[MinuteBucket], spans: Iterable[Span], month: Month,
                     components: Iterable[str], rule: DowntimeMinute,
                     until: datetime | None = None) -> dict[str, ComponentMonth]:
    """Down minutes per component (its own only; the ledger adds what it depends on).

    `until` (the time of the reading) bounds which unmeasured minutes may count as down: a
    minute still to come is not down yet.
    """
    merged = merge(b for b in buckets if month.start <= b.minute < month.end)
    spans = list(spans)
    elapsed_end = month.end if until is None else max(month.start, min(month.end, minute_of(until)))
    result: dict[str, ComponentMonth] = {}
    for component in components:
        down: set[datetime] = set()
        measured: set[datetime] = set()
        for (name, minute), bucket in merged.items():
            verdict = bucket_down(bucket, rule) if name == component else None
            if verdict is not None:
                measured.add(minute)
                if verdict:
                    down.add(minute)
        for span in spans:
            if component in span.components:
                covered = span_minutes(span, month, rule)
                down |= covered
                measured |= covered
        unmeasured: set[datetime] = set()
        if rule.unmeasured == "down":
            count = int((elapsed_end - month.start) / MINUTE)
            unmeasured = {month.start + i * MINUTE for i in range(count)} - measured
        result[component] = ComponentMonth(component, frozenset(down | unmeasured), len(measured),
                                           len(unmeasured))
    return result
