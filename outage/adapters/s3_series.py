"""The availability series in the DR-region bucket: one JSON-lines object per writer and hour.

Layout: `<backup.prefix>outage/availability/YYYY-MM/DD/HH/<writer>.jsonl`, one line per
(component, minute): `{"component", "minute": "YYYY-MM-DDTHH:MMZ", "ok", "failed"}`. A writer
(one watch process) rewrites its hour object as minutes complete, so a retried append is
idempotent; writers never share an object, and readers sum them (two watches, a restart).
"""

import json
import logging
import re
from collections.abc import Sequence
from datetime import datetime

from outage.adapters.dr_bucket import DrBucket
from outage.credits.series import MinuteBucket, Month
from policies.errors import CloudError

log = logging.getLogger(__name__)
AREA = "availability/"
_SAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def hour_key(minute: datetime, writer: str) -> str:
    return f"{AREA}{minute:%Y-%m}/{minute:%d}/{minute:%H}/{writer}.jsonl"


class S3AvailabilitySeries:
    """AvailabilitySeries over the DR bucket; `writer` names this process's objects."""

    def __init__(self, bucket: DrBucket, writer: str = "reader") -> None:
        self._bucket = bucket
        self.writer = _SAFE.sub("-", writer)
        self._hours: dict[str, dict[tuple[str, datetime], MinuteBucket]] = {}

    def append(self, buckets: Sequence[MinuteBucket]) -> None:
        """Merge into this writer's hour objects and write each touched hour whole."""
        touched: set[str] = set()
        for bucket in buckets:
            key = hour_key(bucket.minute, self.writer)
            if key not in self._hours:
                self._hours[key] = {(b.component, b.minute): b for b in self._parse(key, self._bucket.get(key))}
            self._hours[key][(bucket.component, bucket.minute)] = bucket
            touched.add(key)
        for key in sorted(touched):
            lines = [json.dumps(b.to_dict(), sort_keys=True) for b in sorted(
                self._hours[key].values(), key=lambda b: (b.minute, b.component))]
            self._bucket.put(key, ("\n".join(lines) + "\n").encode(), content_type="application/x-ndjson")
        for key in [k for k in self._hours if k not in touched]:
            del self._hours[key]  # a finished hour is never written again by this writer

    def read(self, month: Month) -> list[MinuteBucket]:
        """Every writer's buckets of `month` (not merged: the ledger sums them)."""
        keys = [key for key in self._bucket.keys(f"{AREA}{month}/") if key.endswith(".jsonl")]
        found: list[MinuteBucket] = []
        for key, data in sorted(self._bucket.get_many(keys).items()):
            found += self._parse(key, data)
        return found

    def _parse(self, key: str, data: bytes | None) -> list[MinuteBucket]:
        if data is None:
            return []
        buckets = []
        for number, line in enumerate(data.decode("utf-8", "replace").splitlines(), 1):
            if not line.strip():
                continue
            try:
                buckets.append(MinuteBucket.from_dict(json.loads(line)))
            except (ValueError, KeyError, TypeError) as err:
                raise CloudError(f"{self._bucket.where(key)}: line {number} is not a minute bucket ({err})",
                                 retryable=False) from None
        return buckets
