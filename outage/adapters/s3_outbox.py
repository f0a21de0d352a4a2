"""Credit notices into an outbox in the DR-region bucket, for the customer mail relay to deliver.

Layout: `<backup.prefix>outage/credits/YYYY-MM/outbox/<customer>.json` with the recipient,
language, subject and body. The outbox is the only place the contact is written: the ledger,
the issued records and the logs name the customer by id.
"""

import json
from urllib.parse import quote

from outage.adapters.dr_bucket import DrBucket
from outage.credits.notices import Notice
from outage.credits.series import Month


class S3Outbox:
    """CustomerNotifier: a notice is delivered when it is in the outbox (create-only: sent once)."""

    def __init__(self, bucket: DrBucket) -> None:
        self._bucket = bucket

    def send(self, month: Month, notice: Notice) -> str:
        key = f"credits/{month}/outbox/{quote(notice.customer_id, safe='')}.json"
        body = {"customer_id": notice.customer_id, "to": notice.contact, "language": notice.language,
                "subject": notice.subject, "body": notice.body}
        self._bucket.put(key, json.dumps(body, indent=2, ensure_ascii=False).encode(), create_only=True)
        return f"outbox {self._bucket.where(key)}"
