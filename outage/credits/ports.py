"""What the credits need from the world, as small Protocols; adapters in outage/adapters/ implement them."""

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

from outage.credits.customers import Customer
from outage.credits.issuing import IssuedCredit
from outage.credits.notices import Notice
from outage.credits.series import MinuteBucket, Month, Span


class AvailabilitySeries(Protocol):
    """The watch's per-minute probe buckets, kept in the DR region."""

    def append(self, buckets: Sequence[MinuteBucket]) -> None: ...

    def read(self, month: Month) -> list[MinuteBucket]: ...


class CreditRecords(Protocol):
    """Issued credits per month; `record` is create-only and returns False when one already exists."""

    def issued(self, month: Month) -> dict[str, IssuedCredit]: ...

    def record(self, credit: IssuedCredit) -> bool: ...

    def notified(self, month: Month) -> set[str]: ...

    def mark_notified(self, month: Month, customer_id: str, delivery: str) -> None: ...

    def save_ledger(self, month: Month, files: dict[str, bytes]) -> list[str]: ...


class CustomerSource(Protocol):
    def customers(self) -> list[Customer]: ...


class CustomerNotifier(Protocol):
    """Delivers one notice to one customer; returns where it went (never the contact itself)."""

    def send(self, month: Month, notice: Notice) -> str: ...


class JournalSource(Protocol):
    """Runbook and watch journals: (run id, events as dicts)."""

    def runs(self) -> Iterable[tuple[str, Sequence[Mapping[str, Any]]]]: ...


class OutageSpans(Protocol):
    """Declared outages (incidents, failover journals) overlapping a month."""

    def spans(self, month: Month) -> list[Span]: ...
