"""Issued credits, notice deliveries and ledger files in the DR-region bucket.

Layout under `<backup.prefix>outage/credits/YYYY-MM/`:
  issued/<customer>.json     one per customer and month, written create-only (If-None-Match: *)
  notified/<customer>.json   the notice's delivery (where it went, when), create-only
  ledger/<run>/ledger.{json,csv,html}   each run's ledger as shown
Customer ids are percent-encoded into the key; no contact is stored here.
"""

import json
from datetime import UTC, datetime
from urllib.parse import quote, unquote

from outage.adapters.dr_bucket import DrBucket
from outage.credits.issuing import IssuedCredit
from outage.credits.series import Month
from policies.errors import CloudError

AREA = "credits/"


def _name(customer_id: str) -> str:
    return quote(customer_id, safe="") + ".json"


class S3CreditRecords:
    def __init__(self, bucket: DrBucket, run_id: str) -> None:
        self._bucket = bucket
        self._run = run_id

    def _dir(self, month: Month, kind: str) -> str:
        return f"{AREA}{month}/{kind}/"

    def issued(self, month: Month) -> dict[str, IssuedCredit]:
        keys = list(self._bucket.keys(self._dir(month, "issued")))
        found: dict[str, IssuedCredit] = {}
        for key, data in self._bucket.get_many(keys).items():
            try:
                record = IssuedCredit.from_dict(json.loads(data))
            except (ValueError, KeyError, TypeError) as err:
                raise CloudError(f"{self._bucket.where(key)}: not an issued-credit record ({err})",
                                 retryable=False) from None
            found[record.customer_id] = record
        return found

    def record(self, credit: IssuedCredit) -> bool:
        key = self._dir(Month.parse(credit.month), "issued") + _name(credit.customer_id)
        return self._bucket.put(key, json.dumps(credit.to_dict(), sort_keys=True, indent=2).encode(),
                                create_only=True)

    def notified(self, month: Month) -> set[str]:
        return {unquote(key.rsplit("/", 1)[-1].removesuffix(".json"))
                for key in self._bucket.keys(self._dir(month, "notified"))}

    def mark_notified(self, month: Month, customer_id: str, delivery: str) -> None:
        body = {"customer_id": customer_id, "delivery": delivery, "run_id": self._run,
                "at": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")}
        self._bucket.put(self._dir(month, "notified") + _name(customer_id),
                         json.dumps(body, sort_keys=True).encode(), create_only=True)

    def save_ledger(self, month: Month, files: dict[str, bytes]) -> list[str]:
        types = {"json": "application/json", "csv": "text/csv", "html": "text/html"}
        saved = []
        for name, data in files.items():
            key = f"{self._dir(month, 'ledger')}{self._run}/{name}"
            self._bucket.put(key, data, content_type=types.get(name.rsplit(".", 1)[-1], "application/octet-stream"))
            saved.append(self._bucket.where(key))
        return saved
