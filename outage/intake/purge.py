"""When personal data of a request is removed: a configurable time after it reached the CRM. Pure.

Requests still waiting or on the review list keep their data (the CRM does not hold it yet).
"""

from collections.abc import Iterable
from datetime import datetime, timedelta

from outage.intake.model import RequestRecord


def purge_reason(record: RequestRecord, purge_after: timedelta, now: datetime) -> str | None:
    """Why this request's personal data is removed now, or None to keep it."""
    if record.state == "purged" or record.entered_at is None or record.state not in ("entered", "acknowledged"):
        return None
    due = record.entered_at + purge_after
    if now < due:
        return None
    return f"entered as case {record.case_id} at {record.entered_at.isoformat()}; purge after {purge_after} is due"


def due_for_purge(records: Iterable[RequestRecord], purge_after: timedelta, now: datetime) -> list[str]:
    """Request ids whose personal data is to be removed now."""
    return [record.request_id for record in records if purge_reason(record, purge_after, now)]
